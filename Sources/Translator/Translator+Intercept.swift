import EnvoyAPI
import QpilotAPI
import SwiftProtobuf

/// HTTPS interception. A CONNECT to an intercepted host on port 443 is terminated on the egress
/// listener and its bytes go to the internal listener `qpilot_tls`, which terminates the client's
/// TLS with a certificate minted for the client's SNI (Envoy asks for it over SDS during the
/// handshake: `envoy.tls.certificate_selectors.on_demand_secret` with the SNI mapper), runs the
/// same middleware (the same ECDS resources) on the decrypted requests, and sends them on through
/// `qpilot_dfp_tls`, a dynamic forward proxy that opens a new TLS connection to the origin and
/// verifies its certificate against the SNI it sends. Every other CONNECT stays an opaque tunnel.
///
/// Two rules keep a handshake from ever waiting on a certificate qpilot will not mint:
/// - the listener's only filter chain matches the intercepted names (`server_names`, read by the
///   TLS inspector), so a client that sends another SNI, or none, is closed at once;
/// - the on-demand selector asks only for names that chain accepts, and qpilot mints exactly those.
extension Translator {
    /// `qpilot_egress`: the route table of the egress listener. Intercepted hosts first, with the
    /// port in the domain so that only CONNECT to 443 is intercepted (a suffix wildcard such as
    /// `*.example.com:443` is matched as written), then every other host.
    ///
    /// The middleware and the guard are off on the CONNECT that leads to `qpilot_tls`: the
    /// middleware see each decrypted request there instead (not the tunnel as well), and the guard
    /// judges those requests' real destinations (the tunnel's is an internal listener).
    ///
    /// Originated hosts: plain-HTTP requests for them (Host without a port, or port 80) go to
    /// `qpilot_dfp_tls`, which connects to port 443 over verified TLS. CONNECT to them is left
    /// alone.
    static func egressRoute(intercepted: [HostPattern], originated: [HostPattern], chain: [Middleware]) -> RouteConfiguration {
        var config = forwardProxyRoute(name: Names.egressRoute, connect: true)
        if !originated.isEmpty {
            var host = Envoy_Config_Route_V3_VirtualHost()
            host.name = "originated"
            host.domains = originated.flatMap { [$0.text, "\($0.text):80"] }
            host.routes = [connectRoute(to: Names.forwardProxyCluster), forwardRoute(to: Names.tlsForwardProxyCluster)]
            config.virtualHosts.insert(host, at: 0)
        }
        guard !intercepted.isEmpty else { return config }
        var off = Envoy_Config_Route_V3_FilterConfig()
        off.disabled = true
        var connect = connectRoute(to: Names.interceptCluster)
        for name in [egressGuardFilterName] + chain.map({ Names.filter($0.name) }) {
            connect.typedPerFilterConfig[name] = pack(off)
        }
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.name = "intercepted"
        host.domains = intercepted.map { "\($0.text):443" }
        host.routes = [connect, forwardRoute(to: Names.forwardProxyCluster)]
        config.virtualHosts.insert(host, at: 0)
        return config
    }

    /// `qpilot_tls` (cluster): leads to the internal listener of the same name.
    static func interceptCluster() -> Cluster {
        internalCluster(Names.interceptCluster, listener: Names.interceptListener)
    }

    /// `qpilot_tls` (listener): TLS termination with minted certificates, then the middleware chain.
    static func interceptListener(_ intercepted: [HostPattern], egress: DesiredState.Egress, chain: [Middleware]) -> Listener {
        let hcm = middlewareHCM(statPrefix: Names.interceptListener, route: Names.interceptRoute, egress: egress, chain: chain)

        var match = Envoy_Config_Listener_V3_FilterChainMatch()
        match.serverNames = intercepted.map(\.text)
        var chain = filterChain(hcm)
        chain.filterChainMatch = match
        chain.transportSocket = transportSocket("envoy.transport_sockets.tls", downstreamTLS())

        var inspector = Envoy_Config_Listener_V3_ListenerFilter()
        inspector.name = "envoy.filters.listener.tls_inspector"
        inspector.typedConfig = pack(Envoy_Extensions_Filters_Listener_TlsInspector_V3_TlsInspector())

        var listener = Listener()
        listener.name = Names.interceptListener
        listener.internalListener = Listener.InternalListenerConfig()
        listener.listenerFilters = [inspector]
        listener.filterChains = [chain]
        listener.statPrefix = Names.interceptListener
        return listener
    }

    /// The client side: a certificate named after the client's SNI, fetched over ADS during the
    /// handshake. Session resumption is off because the on-demand selector does not support it.
    static func downstreamTLS() -> Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext {
        var mapper = Envoy_Extensions_TransportSockets_Tls_CertMappers_Sni_V3_SNI()
        // Required by Envoy; never used, because the filter chain admits only named SNIs.
        mapper.defaultValue = "no-server-name.invalid"
        var selector = Envoy_Extensions_TransportSockets_Tls_CertSelectors_OnDemandSecret_V3_Config()
        selector.configSource = adsSource()
        selector.certificateMapper = typedExtension("envoy.tls.certificate_mappers.sni", mapper)

        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        common.customTlsCertificateSelector = typedExtension("envoy.tls.certificate_selectors.on_demand_secret", selector)
        common.alpnProtocols = ["h2", "http/1.1"]
        var context = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext()
        context.commonTlsContext = common
        context.disableStatelessSessionResumption = true
        context.disableStatefulSessionResumption = true
        return context
    }

    /// `qpilot_tls` (route): every decrypted request to the TLS forward proxy.
    static func interceptRoute() -> RouteConfiguration {
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.name = "any"
        host.domains = ["*"]
        host.routes = [forwardRoute(to: Names.tlsForwardProxyCluster)]
        var config = RouteConfiguration()
        config.name = Names.interceptRoute
        config.virtualHosts = [host]
        return config
    }

    /// `qpilot_dfp_tls`: connects to the host a request names, over TLS, sending that host as SNI
    /// and requiring a certificate for it from a trusted authority. Nothing goes out in clear:
    /// a failed check is a failed connection, which the client sees as a 503.
    static func tlsForwardProxyCluster(_ tls: DesiredState.TLS) -> Cluster {
        var trusted = Envoy_Config_Core_V3_DataSource()
        if let pem = tls.upstreamCA { trusted.inlineString = pem } else { trusted.filename = DesiredState.TLS.systemBundle }
        var upstream = upstreamTLS(trusting: trusted)
        upstream.autoHostSni = true
        upstream.autoSniSanValidation = true

        // `qpilot_dfp` with TLS: the same DNS cache as every forward-proxy filter, since a filter
        // finds its cluster's hosts in the cache they share, and the egress listener's filter
        // serves originated hosts.
        var cluster = forwardProxyCluster()
        cluster.name = Names.tlsForwardProxyCluster
        cluster.transportSocket = transportSocket("envoy.transport_sockets.tls", upstream)
        return cluster
    }

    /// A client TLS context that verifies the server against `trusted` roots.
    static func upstreamTLS(trusting trusted: Envoy_Config_Core_V3_DataSource) -> Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext {
        var validation = Envoy_Extensions_TransportSockets_Tls_V3_CertificateValidationContext()
        validation.trustedCa = trusted
        var common = Envoy_Extensions_TransportSockets_Tls_V3_CommonTlsContext()
        common.validationContext = validation
        var upstream = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext()
        upstream.commonTlsContext = common
        return upstream
    }

    static func transportSocket(_ name: String, _ config: some SwiftProtobuf.Message) -> Envoy_Config_Core_V3_TransportSocket {
        var socket = Envoy_Config_Core_V3_TransportSocket()
        socket.name = name
        socket.typedConfig = pack(config)
        return socket
    }

    static func typedExtension(_ name: String, _ config: some SwiftProtobuf.Message) -> Envoy_Config_Core_V3_TypedExtensionConfig {
        var extensionConfig = Envoy_Config_Core_V3_TypedExtensionConfig()
        extensionConfig.name = name
        extensionConfig.typedConfig = pack(config)
        return extensionConfig
    }
}
