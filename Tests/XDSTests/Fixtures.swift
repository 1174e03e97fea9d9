import EnvoyAPI
import Foundation
import QpilotTestSupport
import SwiftProtobuf
import XDS

/// Small, real Envoy resources and requests for the protocol and snapshot tests.
enum Fixtures {
    // MARK: Envoy messages

    static func cluster(_ name: String, timeoutSeconds: Int64 = 5) -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = name
        cluster.type = .static
        var timeout = Google_Protobuf_Duration()
        timeout.seconds = timeoutSeconds
        cluster.connectTimeout = timeout
        return cluster
    }

    static func edsCluster(_ name: String, serviceName: String = "") -> Envoy_Config_Cluster_V3_Cluster {
        var cluster = Envoy_Config_Cluster_V3_Cluster()
        cluster.name = name
        cluster.type = .eds
        var eds = Envoy_Config_Cluster_V3_Cluster.EdsClusterConfig()
        eds.serviceName = serviceName
        var source = Envoy_Config_Core_V3_ConfigSource()
        source.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        eds.edsConfig = source
        cluster.edsClusterConfig = eds
        return cluster
    }

    /// A static cluster whose only endpoint is an Envoy internal listener.
    static func internalCluster(_ name: String, listener: String) -> Envoy_Config_Cluster_V3_Cluster {
        var internalAddress = Envoy_Config_Core_V3_EnvoyInternalAddress()
        internalAddress.serverListenerName = listener
        var address = Envoy_Config_Core_V3_Address()
        address.envoyInternalAddress = internalAddress
        var endpoint = Envoy_Config_Endpoint_V3_Endpoint()
        endpoint.address = address
        var lbEndpoint = Envoy_Config_Endpoint_V3_LbEndpoint()
        lbEndpoint.endpoint = endpoint
        var locality = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
        locality.lbEndpoints = [lbEndpoint]
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        assignment.clusterName = name
        assignment.endpoints = [locality]
        var cluster = cluster(name)
        cluster.loadAssignment = assignment
        return cluster
    }

    static func endpoints(_ name: String) -> Envoy_Config_Endpoint_V3_ClusterLoadAssignment {
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        assignment.clusterName = name
        return assignment
    }

    static func route(_ name: String, cluster: String) -> Envoy_Config_Route_V3_RouteConfiguration {
        var match = Envoy_Config_Route_V3_RouteMatch()
        match.prefix = "/"
        var action = Envoy_Config_Route_V3_RouteAction()
        action.cluster = cluster
        var route = Envoy_Config_Route_V3_Route()
        route.match = match
        route.route = action
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.name = "any"
        host.domains = ["*"]
        host.routes = [route]
        var config = Envoy_Config_Route_V3_RouteConfiguration()
        config.name = name
        config.virtualHosts = [host]
        return config
    }

    /// A listener whose HTTP connection manager takes its routes from RDS `route` and whose chain
    /// names each of `filters` through ECDS.
    static func listener(_ name: String, route: String, filters: [String] = []) -> Envoy_Config_Listener_V3_Listener {
        var hcm = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager()
        hcm.statPrefix = name
        var rds = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_Rds()
        rds.configSource = ads()
        rds.routeConfigName = route
        hcm.rds = rds
        hcm.httpFilters = filters.map { filterName in
            var discovery = Envoy_Config_Core_V3_ExtensionConfigSource()
            discovery.configSource = ads()
            discovery.typeUrls = ["type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm"]
            var filter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
            filter.name = filterName
            filter.configDiscovery = discovery
            return filter
        }
        var router = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter()
        router.name = "envoy.filters.http.router"
        router.typedConfig = try! Google_Protobuf_Any(message: Envoy_Extensions_Filters_Http_Router_V3_Router())
        hcm.httpFilters.append(router)

        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.http_connection_manager"
        filter.typedConfig = try! Google_Protobuf_Any(message: hcm)
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.filters = [filter]
        var listener = Envoy_Config_Listener_V3_Listener()
        listener.name = name
        listener.filterChains = [chain]
        return listener
    }

    /// An ECDS resource; `payload` changes its bytes and so its version.
    static func extensionConfig(_ name: String, payload: String = "v1") -> Envoy_Config_Core_V3_TypedExtensionConfig {
        var plugin = Envoy_Extensions_Wasm_V3_PluginConfig()
        plugin.name = name
        plugin.configuration = try! Google_Protobuf_Any(message: Google_Protobuf_StringValue(payload))
        var wasm = Envoy_Extensions_Filters_Http_Wasm_V3_Wasm()
        wasm.config = plugin
        var config = Envoy_Config_Core_V3_TypedExtensionConfig()
        config.name = name
        config.typedConfig = try! Google_Protobuf_Any(message: wasm)
        return config
    }

    static func ads() -> Envoy_Config_Core_V3_ConfigSource {
        var source = Envoy_Config_Core_V3_ConfigSource()
        source.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
        source.resourceApiVersion = .v3
        return source
    }

    // MARK: Resources and snapshots

    static func resource(_ type: ResourceType, _ name: String, _ message: some SwiftProtobuf.Message) -> Resource {
        try! Resource(name: name, typeURL: type.typeURL, message: message)
    }

    /// A small consistent snapshot: clusters, an EDS cluster with its endpoints, a listener with
    /// its route and two ECDS filters. `ecdsPayload` changes the ECDS resources only; `extraCluster`
    /// and `clusterTimeout` change CDS only; `sideListener` renames a listener (LDS only).
    static func snapshot(
        clusters: [String] = ["alpha", "beta", "gamma"], ecdsPayload: String = "v1", extraCluster: String? = nil,
        clusterTimeout: Int64 = 5, sideListener: String = "side"
    ) throws -> Snapshot {
        var clusterResources = clusters.map { resource(.cluster, $0, cluster($0, timeoutSeconds: clusterTimeout)) }
        if let extraCluster { clusterResources.append(resource(.cluster, extraCluster, cluster(extraCluster))) }
        clusterResources.append(resource(.cluster, "svc", edsCluster("svc")))
        return try Snapshot([
            .cluster: clusterResources,
            .endpoint: [resource(.endpoint, "svc", endpoints("svc"))],
            .listener: [
                resource(.listener, "main", listener("main", route: "main_route", filters: ["ecds_a", "ecds_b"])),
                resource(.listener, sideListener, listener(sideListener, route: "side_route")),
            ],
            .route: [
                resource(.route, "main_route", route("main_route", cluster: clusters.first ?? "svc")),
                resource(.route, "side_route", route("side_route", cluster: "svc")),
            ],
            .extensionConfig: [
                resource(.extensionConfig, "ecds_a", extensionConfig("ecds_a", payload: ecdsPayload)),
                resource(.extensionConfig, "ecds_b", extensionConfig("ecds_b", payload: ecdsPayload)),
            ],
        ])
    }

    // MARK: Requests

    static func sotw(
        _ type: ResourceType, names: [String] = [], version: String = "", nonce: String = "", error: String? = nil,
        typeURL: String? = nil
    ) -> Envoy_Service_Discovery_V3_DiscoveryRequest {
        var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
        request.typeURL = typeURL ?? type.typeURL
        request.resourceNames = names
        request.versionInfo = version
        request.responseNonce = nonce
        if let error {
            var status = Google_Rpc_Status()
            status.code = 3
            status.message = error
            request.errorDetail = status
        }
        return request
    }

    static func delta(
        _ type: ResourceType, subscribe: [String] = [], unsubscribe: [String] = [], initial: [String: String] = [:],
        nonce: String = "", error: String? = nil, typeURL: String? = nil
    ) -> Envoy_Service_Discovery_V3_DeltaDiscoveryRequest {
        var request = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
        request.typeURL = typeURL ?? type.typeURL
        request.resourceNamesSubscribe = subscribe
        request.resourceNamesUnsubscribe = unsubscribe
        request.initialResourceVersions = initial
        request.responseNonce = nonce
        if let error {
            var status = Google_Rpc_Status()
            status.code = 3
            status.message = error
            request.errorDetail = status
        }
        return request
    }
}

extension SotWStream.Response {
    /// The resources carried, name → version: what an ACK or a NACK of this response is about.
    var carried: [String: String] { Dictionary(uniqueKeysWithValues: resources.map { ($0.name, $0.version) }) }
}

extension DeltaStream.Response {
    /// The resources carried, name → version.
    var carried: [String: String] { Dictionary(uniqueKeysWithValues: resources.map { ($0.name, $0.version) }) }
}
