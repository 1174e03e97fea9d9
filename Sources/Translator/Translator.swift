import EnvoyAPI
import Foundation
import QpilotAPI
import SwiftProtobuf

/// Turns desired state into the Envoy resources of one fleet. Pure: no I/O, no clocks, no
/// randomness, so equal input gives byte-equal output.
public enum Translator {
    /// The resources for the nodes of `fleet`.
    public static func translate(_ state: DesiredState, for fleet: FleetKey) -> EnvoyResources {
        let chain = orderedChain(state.middleware.filter { $0.applies(to: fleet) })
        let intercepted = state.tls.patterns(for: fleet)
        let originated = state.tls.originated(for: fleet)
        var resources = EnvoyResources()
        resources.clusters = [forwardProxyCluster(), calloutCluster(), moduleCluster(state.moduleEndpoint)]
        resources.listeners = [egressListener(state.egress, chain: chain), calloutListener(state.callout, allowInternal: state.egress.allowInternal)]
        resources.routes = [
            egressRoute(intercepted: intercepted, originated: originated, chain: chain),
            forwardProxyRoute(name: Names.calloutRoute, connect: false),
        ]
        if !intercepted.isEmpty || !originated.isEmpty {
            resources.clusters.append(tlsForwardProxyCluster(state.tls))
        }
        if !intercepted.isEmpty {
            resources.clusters.append(interceptCluster())
            resources.listeners.append(interceptListener(intercepted, egress: state.egress, chain: chain))
            resources.routes.append(interceptRoute())
        }
        resources.interceptedHosts = intercepted
        resources.extensionConfigs = chain.map { wasmExtensionConfig($0, moduleEndpoint: state.moduleEndpoint) }
        return resources
    }

    /// Middleware in chain order: by phase (authn, authz, stats, then none), then priority
    /// descending, then name, so the order never depends on input order.
    public static func orderedChain(_ middleware: [Middleware]) -> [Middleware] {
        middleware.sorted { lhs, rhs in
            if lhs.phase != rhs.phase {
                guard let left = lhs.phase else { return false }
                guard let right = rhs.phase else { return true }
                return left < right
            }
            if lhs.priority != rhs.priority { return lhs.priority > rhs.priority }
            return lhs.name < rhs.name
        }
    }

    // MARK: Clusters

    /// The DNS cache that every forward-proxy filter and cluster share, field for field.
    static func dnsCache() -> Envoy_Extensions_Common_DynamicForwardProxy_V3_DnsCacheConfig {
        var cache = Envoy_Extensions_Common_DynamicForwardProxy_V3_DnsCacheConfig()
        cache.name = Names.dnsCache
        cache.dnsLookupFamily = .v4Preferred
        return cache
    }

    static func forwardProxyCluster() -> Cluster {
        var config = Envoy_Extensions_Clusters_DynamicForwardProxy_V3_ClusterConfig()
        config.dnsCacheConfig = dnsCache()
        var custom = Cluster.CustomClusterType()
        custom.name = "envoy.clusters.dynamic_forward_proxy"
        custom.typedConfig = pack(config)
        var cluster = Cluster()
        cluster.name = Names.forwardProxyCluster
        cluster.clusterType = custom
        cluster.connectTimeout = duration(seconds: 5)
        cluster.lbPolicy = .clusterProvided
        return cluster
    }

    /// `qpilot_callout`: its only endpoint is the internal listener of the same name.
    static func calloutCluster() -> Cluster {
        internalCluster(Names.calloutCluster, listener: Names.calloutListener)
    }

    /// A cluster whose only endpoint is an internal listener.
    static func internalCluster(_ name: String, listener: String) -> Cluster {
        var internalAddress = Envoy_Config_Core_V3_EnvoyInternalAddress()
        internalAddress.serverListenerName = listener
        var address = Address()
        address.envoyInternalAddress = internalAddress

        var upstream = Envoy_Extensions_TransportSockets_InternalUpstream_V3_InternalUpstreamTransport()
        upstream.transportSocket = transportSocket(
            "envoy.transport_sockets.raw_buffer", Envoy_Extensions_TransportSockets_RawBuffer_V3_RawBuffer())
        var cluster = staticCluster(name, address)
        cluster.transportSocket = transportSocket("envoy.transport_sockets.internal_upstream", upstream)
        return cluster
    }

    /// `qpilot_modules`: qpilot's module endpoint, for `remote` delivery.
    static func moduleCluster(_ endpoint: DesiredState.ModuleEndpoint) -> Cluster {
        var cluster = staticCluster(Names.moduleCluster, socketAddress(endpoint.host, endpoint.port))
        if !isIPLiteral(endpoint.host) { cluster.type = .strictDns }
        if let ca = endpoint.ca {
            // HTTPS to qpilot, trusting only its CA; the module's sha256 is checked as well.
            var trusted = Envoy_Config_Core_V3_DataSource()
            trusted.inlineString = ca
            var upstream = upstreamTLS(trusting: trusted)
            if !isIPLiteral(endpoint.host) { upstream.sni = endpoint.host }
            cluster.transportSocket = transportSocket("envoy.transport_sockets.tls", upstream)
        }
        return cluster
    }

    static func staticCluster(_ name: String, _ address: Address) -> Cluster {
        var endpoint = Envoy_Config_Endpoint_V3_Endpoint()
        endpoint.address = address
        var lbEndpoint = Envoy_Config_Endpoint_V3_LbEndpoint()
        lbEndpoint.endpoint = endpoint
        var locality = Envoy_Config_Endpoint_V3_LocalityLbEndpoints()
        locality.lbEndpoints = [lbEndpoint]
        var assignment = Envoy_Config_Endpoint_V3_ClusterLoadAssignment()
        assignment.clusterName = name
        assignment.endpoints = [locality]
        var cluster = Cluster()
        cluster.name = name
        cluster.type = .static
        cluster.connectTimeout = duration(seconds: 5)
        cluster.loadAssignment = assignment
        return cluster
    }

    static func isIPLiteral(_ host: String) -> Bool {
        host.contains(":") || host.split(separator: ".").count == 4 && host.allSatisfy { $0.isNumber || $0 == "." }
    }
}
