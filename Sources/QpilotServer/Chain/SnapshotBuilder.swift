import EnvoyAPI
import Translator
import XDS

/// Encodes translated resources into a snapshot: each resource once, for every node of its fleet.
public enum SnapshotBuilder {
    public static func snapshot(_ resources: EnvoyResources) throws -> Snapshot {
        try Snapshot([
            .cluster: resources.clusters.map { try Resource(name: $0.name, typeURL: ResourceType.cluster.typeURL, message: $0) },
            .listener: resources.listeners.map { try Resource(name: $0.name, typeURL: ResourceType.listener.typeURL, message: $0) },
            .route: resources.routes.map { try Resource(name: $0.name, typeURL: ResourceType.route.typeURL, message: $0) },
            .extensionConfig: resources.extensionConfigs.map {
                try Resource(name: $0.name, typeURL: ResourceType.extensionConfig.typeURL, message: $0)
            },
        ])
    }
}
