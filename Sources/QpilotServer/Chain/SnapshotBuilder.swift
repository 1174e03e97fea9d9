import EnvoyAPI
import Translator
import XDS

/// Encodes translated resources into a snapshot: each resource once, for every node of its fleet.
public enum SnapshotBuilder {
    public static func snapshot(_ resources: EnvoyResources) throws -> Snapshot {
        var unshared: [String: Resource] = [:]
        return try snapshot(resources, sharing: &unshared)
    }

    /// The same, with the middleware (ECDS) resources encoded once for every fleet of one build:
    /// a middleware's resource is the same in every fleet that has it, and with inline delivery
    /// it carries the whole module, which must not be copied once per fleet.
    public static func snapshot(_ resources: EnvoyResources, sharing shared: inout [String: Resource]) throws -> Snapshot {
        var extensionConfigs: [Resource] = []
        for config in resources.extensionConfigs {
            if let encoded = shared[config.name] {
                extensionConfigs.append(encoded)
            } else {
                let encoded = try Resource(name: config.name, typeURL: ResourceType.extensionConfig.typeURL, message: config)
                shared[config.name] = encoded
                extensionConfigs.append(encoded)
            }
        }
        return try Snapshot([
            .cluster: resources.clusters.map { try Resource(name: $0.name, typeURL: ResourceType.cluster.typeURL, message: $0) },
            .listener: resources.listeners.map { try Resource(name: $0.name, typeURL: ResourceType.listener.typeURL, message: $0) },
            .route: resources.routes.map { try Resource(name: $0.name, typeURL: ResourceType.route.typeURL, message: $0) },
            .extensionConfig: extensionConfigs,
        ])
    }
}
