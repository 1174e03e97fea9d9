import EnvoyAPI
import Foundation
import QpilotAPI
import QpilotTestSupport
import SwiftProtobuf
import Testing
import Translator

@Suite("Translator: HTTPS interception")
struct InterceptTranslationTests {
    typealias TLSContext = Envoy_Extensions_TransportSockets_Tls_V3_DownstreamTlsContext
    typealias UpstreamContext = Envoy_Extensions_TransportSockets_Tls_V3_UpstreamTlsContext

    static func state(
        intercept: [DesiredState.Intercept], originate: [DesiredState.Intercept] = [], upstreamCA: String? = nil
    ) -> DesiredState {
        DesiredState(
            egress: .init(address: "127.0.0.1", port: 10000), callout: .init(),
            moduleEndpoint: .init(host: "127.0.0.1", port: 18002),
            middleware: [Middleware(name: "pii", sha256: String(repeating: "a", count: 64), delivery: .remote)],
            tls: .init(intercept: intercept, originate: originate, upstreamCA: upstreamCA))
    }

    @Test("no intercepted host: no TLS listener, cluster or route, as before")
    func nothingIntercepted() throws {
        let resources = Translator.translate(Self.state(intercept: []), for: .everyOther)
        #expect(!resources.listeners.contains { $0.name == Names.interceptListener })
        #expect(!resources.clusters.contains { $0.name == Names.tlsForwardProxyCluster || $0.name == Names.interceptCluster })
        #expect(try resources.route(Names.egressRoute).virtualHosts.map(\.name) == ["any"])
        #expect(resources.interceptedHosts.isEmpty)
    }

    @Test("CONNECT to an intercepted host on 443 goes to qpilot_tls with the middleware and guard off on that route; the TLS listener admits only intercepted SNIs")
    func interceptedChain() throws {
        let intercept = try [
            DesiredState.Intercept(host: HostPattern(parsing: "api.stripe.com")),
            DesiredState.Intercept(host: HostPattern(parsing: "*.openai.com")),
            DesiredState.Intercept(host: HostPattern(parsing: "api.twilio.com"), fleets: ["payments"]),
        ]
        let resources = Translator.translate(Self.state(intercept: intercept), for: .everyOther)
        #expect(resources.interceptedHosts.map(\.text) == ["*.openai.com", "api.stripe.com"])

        let route = try resources.route(Names.egressRoute)
        let intercepted = try #require(route.virtualHosts.first)
        #expect(intercepted.domains == ["*.openai.com:443", "api.stripe.com:443"])
        let connect = try #require(intercepted.routes.first)
        #expect(connect.match.connectMatcher == Envoy_Config_Route_V3_RouteMatch.ConnectMatcher())
        #expect(connect.route.cluster == Names.interceptCluster)
        #expect(connect.route.upgradeConfigs.first?.hasConnectConfig == true)
        #expect(connect.typedPerFilterConfig.keys.sorted() == ["envoy.filters.http.rbac", Names.filter("pii")])
        for config in connect.typedPerFilterConfig.values {
            #expect(try Envoy_Config_Route_V3_FilterConfig(unpackingAny: config).disabled)
        }
        #expect(route.virtualHosts.last?.domains == ["*"])

        let listener = try resources.listener(Names.interceptListener)
        #expect(listener.internalListener == Envoy_Config_Listener_V3_Listener.InternalListenerConfig())
        #expect(listener.listenerFilters.map(\.name) == ["envoy.filters.listener.tls_inspector"])
        let chain = try #require(listener.filterChains.only)
        #expect(chain.filterChainMatch.serverNames == ["*.openai.com", "api.stripe.com"])
        #expect(chain.transportSocket.name == "envoy.transport_sockets.tls")
        let tls = try TLSContext(unpackingAny: chain.transportSocket.typedConfig)
        #expect(tls.disableStatelessSessionResumption && tls.disableStatefulSessionResumption)
        #expect(tls.commonTlsContext.alpnProtocols == ["h2", "http/1.1"])
        let selector = tls.commonTlsContext.customTlsCertificateSelector
        #expect(selector.name == "envoy.tls.certificate_selectors.on_demand_secret")
        let onDemand = try Envoy_Extensions_TransportSockets_Tls_CertSelectors_OnDemandSecret_V3_Config(unpackingAny: selector.typedConfig)
        #expect(onDemand.configSource.ads == Envoy_Config_Core_V3_AggregatedConfigSource())
        #expect(onDemand.certificateMapper.name == "envoy.tls.certificate_mappers.sni")

        let hcm = try resources.hcm(Names.interceptListener)
        #expect(hcm.rds.routeConfigName == Names.interceptRoute)
        #expect(hcm.httpFilters.map(\.name) == [
            "envoy.filters.http.dynamic_forward_proxy", "envoy.filters.http.rbac", Names.filter("pii"), "envoy.filters.http.router",
        ])
        #expect(try resources.route(Names.interceptRoute).virtualHosts.only?.routes.only?.route.cluster == Names.tlsForwardProxyCluster)

        // The fleet named by an entry gets its host too.
        let payments = Translator.translate(Self.state(intercept: intercept), for: .named("payments"))
        #expect(payments.interceptedHosts.map(\.text) == ["*.openai.com", "api.stripe.com", "api.twilio.com"])
    }

    @Test("origins are verified: auto SNI, the SAN checked against it, the system bundle or upstreamCA")
    func upstreamVerification() throws {
        let intercept = try [DesiredState.Intercept(host: HostPattern(parsing: "api.stripe.com"))]
        for upstreamCA in [nil, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"] {
            let resources = Translator.translate(Self.state(intercept: intercept, upstreamCA: upstreamCA), for: .everyOther)
            let cluster = try resources.cluster(Names.tlsForwardProxyCluster)
            #expect(cluster.clusterType.name == "envoy.clusters.dynamic_forward_proxy")
            #expect(cluster.transportSocket.name == "envoy.transport_sockets.tls")
            let tls = try UpstreamContext(unpackingAny: cluster.transportSocket.typedConfig)
            #expect(tls.autoHostSni && tls.autoSniSanValidation)
            let trusted = tls.commonTlsContext.validationContext.trustedCa
            if let upstreamCA {
                #expect(trusted.inlineString == upstreamCA)
            } else {
                #expect(trusted.filename == DesiredState.TLS.systemBundle)
            }
            let internalCluster = try resources.cluster(Names.interceptCluster)
            #expect(internalCluster.loadAssignment.endpoints.only?.lbEndpoints.only?.endpoint.address.envoyInternalAddress.serverListenerName == Names.interceptListener)
        }
    }

    @Test("an originated host: its plain HTTP (no port, or 80) goes to the TLS forward proxy; CONNECT to it stays a tunnel; no TLS listener is needed")
    func originated() throws {
        let originate = try [DesiredState.Intercept(host: HostPattern(parsing: "internal-api.example.com"))]
        let resources = Translator.translate(Self.state(intercept: [], originate: originate), for: .everyOther)
        let host = try #require(try resources.route(Names.egressRoute).virtualHosts.first)
        #expect(host.name == "originated")
        #expect(host.domains == ["internal-api.example.com", "internal-api.example.com:80"])
        #expect(host.routes.map(\.route.cluster) == [Names.forwardProxyCluster, Names.tlsForwardProxyCluster])
        #expect(host.routes.first?.match.connectMatcher == Envoy_Config_Route_V3_RouteMatch.ConnectMatcher())
        #expect(resources.clusters.contains { $0.name == Names.tlsForwardProxyCluster })
        #expect(!resources.listeners.contains { $0.name == Names.interceptListener })
        #expect(resources.interceptedHosts.isEmpty, "originating a host must not let nodes ask for its certificate")
        // Every forward proxy shares one DNS cache, or the egress filter could not serve the TLS cluster.
        let cluster = try resources.cluster(Names.tlsForwardProxyCluster)
        let config = try Envoy_Extensions_Clusters_DynamicForwardProxy_V3_ClusterConfig(unpackingAny: cluster.clusterType.typedConfig)
        #expect(config.dnsCacheConfig.name == "qpilot_dns")
    }
}
