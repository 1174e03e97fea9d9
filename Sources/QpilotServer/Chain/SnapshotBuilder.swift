import Crypto
import EnvoyAPI
import Translator
import XDS

/// Encodes translated resources into a snapshot: each resource once, for every node of its fleet.
public enum SnapshotBuilder {
    public static func snapshot(_ resources: EnvoyResources, versionKey: SymmetricKey? = nil) throws -> Snapshot {
        var unshared: [String: Resource] = [:]
        return try snapshot(resources, sharing: &unshared, versionKey: versionKey)
    }

    /// The same, with the middleware (ECDS) resources encoded once for every fleet of one build:
    /// a middleware's resource is the same in every fleet that has it, and with inline delivery
    /// it carries the whole module, which must not be copied once per fleet.
    ///
    /// `versionKey` keys the resource versions (see `Resource`); qpilot passes its installation's key.
    public static func snapshot(
        _ resources: EnvoyResources, sharing shared: inout [String: Resource], versionKey: SymmetricKey? = nil
    ) throws -> Snapshot {
        var extensionConfigs: [Resource] = []
        for config in resources.extensionConfigs {
            if let encoded = shared[config.name] {
                extensionConfigs.append(encoded)
            } else {
                // A module Envoy fetches by URL: each stream renders its own URL query.
                let fetched = Translator.remoteModule(of: config).map { module in
                    Resource.Fetched(key: module.sha256) { query in
                        try Resource.encode(module.withQuery(query), typeURL: ResourceType.extensionConfig.typeURL)
                    }
                }
                let encoded = try Resource(
                    name: config.name, typeURL: ResourceType.extensionConfig.typeURL, message: config, versionKey: versionKey,
                    fetched: fetched)
                shared[config.name] = encoded
                extensionConfigs.append(encoded)
            }
        }
        return try Snapshot([
            .cluster: resources.clusters.map {
                try Resource(name: $0.name, typeURL: ResourceType.cluster.typeURL, message: $0, versionKey: versionKey)
            },
            .listener: resources.listeners.map {
                try Resource(name: $0.name, typeURL: ResourceType.listener.typeURL, message: $0, versionKey: versionKey)
            },
            .route: resources.routes.map {
                try Resource(name: $0.name, typeURL: ResourceType.route.typeURL, message: $0, versionKey: versionKey)
            },
            .extensionConfig: extensionConfigs,
        ], secretNames: resources.interceptedHosts)
    }
}
