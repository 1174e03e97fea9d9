import EnvoyAPI
import Foundation
import QpilotAPI
import SwiftProtobuf
import Testing
import Translator
import QpilotTestSupport

typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
typealias WasmFilter = Envoy_Extensions_Filters_Http_Wasm_V3_Wasm
typealias RBACFilter = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC

extension EnvoyResources {
    func listener(_ name: String) throws -> Envoy_Config_Listener_V3_Listener {
        try #require(listeners.first { $0.name == name })
    }

    func cluster(_ name: String) throws -> Envoy_Config_Cluster_V3_Cluster {
        try #require(clusters.first { $0.name == name })
    }

    func route(_ name: String) throws -> Envoy_Config_Route_V3_RouteConfiguration {
        try #require(routes.first { $0.name == name })
    }

    /// The HTTP connection manager of a listener's only filter chain.
    func hcm(_ listener: String) throws -> HCM {
        let listener = try self.listener(listener)
        let chain = try #require(listener.filterChains.only)
        let filter = try #require(chain.filters.only)
        #expect(filter.name == "envoy.filters.network.http_connection_manager")
        return try HCM(unpackingAny: filter.typedConfig)
    }

    /// The Wasm filter of a middleware's ECDS resource.
    func wasm(_ middleware: String) throws -> WasmFilter {
        let config = try #require(extensionConfigs.first { $0.name == Names.filter(middleware) })
        #expect(config.typedConfig.typeURL == "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm")
        return try WasmFilter(unpackingAny: config.typedConfig)
    }
}

@Suite("Translator")
struct TranslatorTests {
    static func middleware(
        _ name: String, phase: Phase? = nil, priority: Int = 0, fleets: [String]? = nil,
        policy: FailurePolicy = .closed, delivery: Middleware.Delivery = .remote
    ) -> Middleware {
        Middleware(
            name: name, sha256: String(repeating: "0", count: 64), delivery: delivery, failurePolicy: policy, phase: phase,
            priority: priority, fleets: fleets)
    }

    // MARK: Chain order

    @Test("the chain is ordered by phase (authn, authz, stats, none), then priority descending, then name")
    func chainOrder() {
        let middleware = [
            Self.middleware("s", phase: .stats),
            Self.middleware("z", priority: 5),
            Self.middleware("b", phase: .authz, priority: 1),
            Self.middleware("a2", phase: .authn, priority: 1),
            Self.middleware("a1", phase: .authn, priority: 5),
            Self.middleware("y", priority: 5),
            Self.middleware("a0", phase: .authn, priority: 5),
            Self.middleware("n", priority: -3),
            Self.middleware("st", phase: .stats, priority: 100),
        ]
        let expected = ["a0", "a1", "a2", "b", "st", "s", "y", "z", "n"]
        #expect(Translator.orderedChain(middleware).map(\.name) == expected)
        #expect(Translator.orderedChain(middleware.reversed()).map(\.name) == expected, "input order does not matter")
        #expect(Translator.orderedChain(middleware.sorted { $0.name < $1.name }).map(\.name) == expected)
    }

    @Test("the egress chain is dynamic_forward_proxy, the internal-destination guard, the middleware in order, then the router")
    func egressFilters() throws {
        let state = Samples.desiredState(middleware: [
            Self.middleware("metrics", phase: .stats),
            Self.middleware("login", phase: .authn),
            Self.middleware("policy", phase: .authz),
        ])
        let resources = Translator.translate(state, for: .everyOther)
        let hcm = try resources.hcm(Names.egressListener)
        #expect(hcm.httpFilters.map(\.name) == [
            "envoy.filters.http.dynamic_forward_proxy", "envoy.filters.http.rbac",
            "qpilot.middleware.login", "qpilot.middleware.policy", "qpilot.middleware.metrics",
            "envoy.filters.http.router",
        ])
        #expect(resources.extensionConfigs.map(\.name) == [
            "qpilot.middleware.login", "qpilot.middleware.policy", "qpilot.middleware.metrics",
        ])
        guard case .rds(let rds) = hcm.routeSpecifier else {
            Issue.record("the egress listener must take its routes from RDS")
            return
        }
        #expect(rds.routeConfigName == Names.egressRoute)
        #expect(hcm.upgradeConfigs.map(\.upgradeType) == ["CONNECT"])
        #expect(hcm.http2ProtocolOptions.allowConnect)

        let listener = try resources.listener(Names.egressListener)
        #expect(listener.address.socketAddress.address == "127.0.0.1")
        #expect(listener.address.socketAddress.portValue == 10000)
    }

    @Test("the callout listener is internal, guarded, and has no middleware")
    func calloutListener() throws {
        let resources = Translator.translate(Samples.desiredState(), for: .everyOther)
        let listener = try resources.listener(Names.calloutListener)
        guard case .internalListener? = listener.listenerSpecifier else {
            Issue.record("the callout listener must be an internal listener")
            return
        }
        #expect(!listener.hasAddress)
        let hcm = try resources.hcm(Names.calloutListener)
        #expect(hcm.httpFilters.map(\.name) == [
            "envoy.filters.http.dynamic_forward_proxy", "envoy.filters.http.rbac", "envoy.filters.http.router",
        ])
        #expect(hcm.statPrefix == Names.calloutListener)
        #expect(hcm.accessLog.count == 1, "the callout log defaults to /dev/stdout")

        // And the callout cluster reaches it.
        let cluster = try resources.cluster(Names.calloutCluster)
        let endpoint = try #require(cluster.loadAssignment.endpoints.only?.lbEndpoints.only)
        #expect(endpoint.endpoint.address.envoyInternalAddress.serverListenerName == Names.calloutListener)
        #expect(cluster.transportSocket.name == "envoy.transport_sockets.internal_upstream")
    }

    @Test("routes send everything to the forward-proxy cluster; only the egress route matches CONNECT")
    func routes() throws {
        let resources = Translator.translate(Samples.desiredState(), for: .everyOther)
        let egress = try resources.route(Names.egressRoute)
        let callout = try resources.route(Names.calloutRoute)
        #expect(egress.virtualHosts.only?.routes.map(\.name) == ["connect", "forward"])
        #expect(callout.virtualHosts.only?.routes.map(\.name) == ["forward"])
        for route in (egress.virtualHosts + callout.virtualHosts).flatMap(\.routes) {
            #expect(route.route.cluster == Names.forwardProxyCluster)
        }
        #expect(egress.virtualHosts.only?.domains == ["*"])
    }

    // MARK: Fleets

    @Test(
        "a middleware with fleets applies to those fleets only; one without applies to all",
        arguments: [
            ("a", ["qpilot.middleware.everywhere", "qpilot.middleware.only-a"]),
            ("b", ["qpilot.middleware.everywhere"]),
            (nil, ["qpilot.middleware.everywhere"]),
        ] as [(String?, [String])])
    func fleets(fleet: String?, expected: [String]) throws {
        let state = Samples.desiredState(middleware: [
            Self.middleware("only-a", priority: 1, fleets: ["a"]),
            Self.middleware("everywhere", priority: 2),
        ])
        #expect(state.fleetKeys == [.named("a"), .everyOther])
        let resources = Translator.translate(state, for: fleet.map(FleetKey.named) ?? .everyOther)
        #expect(resources.extensionConfigs.map(\.name) == expected)
        let chain = try resources.hcm(Names.egressListener).httpFilters.map(\.name)
        #expect(Array(chain.dropFirst(2).dropLast()) == expected)  // after the forward proxy and the guard
    }

    // MARK: Failure policy

    @Test("the ECDS default applies the failure policy: deny-all RBAC when closed, no-op RBAC when open",
          arguments: FailurePolicy.allCases)
    func failurePolicy(policy: FailurePolicy) throws {
        let state = Samples.desiredState(middleware: [Self.middleware("m", policy: policy)])
        let resources = Translator.translate(state, for: .everyOther)
        let filter = try #require(try resources.hcm(Names.egressListener).httpFilters.first { $0.name == "qpilot.middleware.m" })
        guard case .configDiscovery(let discovery) = filter.configType else {
            Issue.record("a middleware filter is configured through ECDS")
            return
        }
        guard case .ads? = discovery.configSource.configSourceSpecifier else {
            Issue.record("ECDS must come over ADS")
            return
        }
        #expect(discovery.typeUrls == [
            "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
        ])
        #expect(discovery.defaultConfig.typeURL == "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC")
        let rbac = try RBACFilter(unpackingAny: discovery.defaultConfig)
        switch policy {
        case .closed:
            // An ALLOW rule set with no policy matches no request, so every request is denied.
            #expect(rbac.hasRules)
            #expect(rbac.rules.action == .allow)
            #expect(rbac.rules.policies.isEmpty)
        case .open:
            #expect(!rbac.hasRules, "no rules: RBAC enforces nothing")
        }
        let wasm = try resources.wasm("m")
        #expect(wasm.config.failurePolicy == (policy == .closed ? .failClosed : .failOpen))
    }

    // MARK: Delivery

    @Test("inline delivery puts the module's bytes in the ECDS resource")
    func inlineDelivery() throws {
        let bytes = Samples.wasm("inline")
        let state = Samples.desiredState(middleware: [Self.middleware("m", delivery: .inline(bytes))])
        let wasm = try Translator.translate(state, for: .everyOther).wasm("m")
        #expect(wasm.config.name == "m")
        #expect(wasm.config.vmConfig.vmID == "m", "one VM per middleware")
        #expect(wasm.config.vmConfig.runtime == "envoy.wasm.runtime.v8")
        guard case .local(let local)? = wasm.config.vmConfig.code.specifier, case .inlineBytes(let inline)? = local.specifier
        else {
            Issue.record("inline delivery is local inline bytes")
            return
        }
        #expect(inline == bytes)
    }

    @Test("file delivery names the file")
    func fileDelivery() throws {
        let state = Samples.desiredState(middleware: [Self.middleware("m", delivery: .file(path: "/shared/abc.wasm"))])
        let wasm = try Translator.translate(state, for: .everyOther).wasm("m")
        #expect(wasm.config.vmConfig.code.local.filename == "/shared/abc.wasm")
        guard case .local(let local)? = wasm.config.vmConfig.code.specifier, case .filename? = local.specifier else {
            Issue.record("file delivery is a local file name")
            return
        }
    }

    @Test(
        "remote delivery fetches /modules/sha256/<hex> through the qpilot_modules cluster, checked and retried",
        arguments: [
            ("127.0.0.1", "http://127.0.0.1:18002/modules/sha256/"),
            ("fd00::1", "http://[fd00::1]:18002/modules/sha256/"),
            ("qpilot.internal", "http://qpilot.internal:18002/modules/sha256/"),
        ])
    func remoteDelivery(host: String, uriPrefix: String) throws {
        let sha = String(repeating: "ab", count: 32)
        var state = Samples.desiredState(middleware: [
            Middleware(name: "m", sha256: sha, delivery: .remote)
        ])
        state.moduleEndpoint = .init(host: host, port: 18002)
        let resources = Translator.translate(state, for: .everyOther)
        let code = try resources.wasm("m").config.vmConfig.code
        guard case .remote(let remote)? = code.specifier else {
            Issue.record("remote delivery is a remote data source")
            return
        }
        #expect(remote.httpUri.uri == uriPrefix + sha)
        #expect(remote.httpUri.cluster == Names.moduleCluster)
        #expect(remote.httpUri.timeout.seconds > 0)
        #expect(remote.sha256 == sha)
        #expect(remote.hasRetryPolicy)
        #expect(remote.retryPolicy.numRetries.value > 0)
        #expect(remote.retryPolicy.retryBackOff.baseInterval.seconds > 0)

        let cluster = try resources.cluster(Names.moduleCluster)
        #expect(cluster.type == (host == "qpilot.internal" ? .strictDns : .static))
        let address = try #require(cluster.loadAssignment.endpoints.only?.lbEndpoints.only).endpoint.address.socketAddress
        #expect(address.address == host)
        #expect(address.portValue == 18002)
    }

    @Test("the module's configuration is a StringValue holding its JSON")
    func configuration() throws {
        var middleware = Self.middleware("m")
        middleware.configuration = #"{"realm":"corp"}"#
        let wasm = try Translator.translate(Samples.desiredState(middleware: [middleware]), for: .everyOther).wasm("m")
        #expect(try Google_Protobuf_StringValue(unpackingAny: wasm.config.configuration).value == #"{"realm":"corp"}"#)
    }

    // MARK: Clusters

    @Test("the forward-proxy cluster and filter share one DNS cache")
    func dnsCache() throws {
        let resources = Translator.translate(Samples.desiredState(), for: .everyOther)
        #expect(resources.clusters.map(\.name) == [Names.forwardProxyCluster, Names.calloutCluster, Names.moduleCluster])
        let cluster = try resources.cluster(Names.forwardProxyCluster)
        #expect(cluster.clusterType.name == "envoy.clusters.dynamic_forward_proxy")
        #expect(cluster.lbPolicy == .clusterProvided)
        let clusterConfig = try Envoy_Extensions_Clusters_DynamicForwardProxy_V3_ClusterConfig(
            unpackingAny: cluster.clusterType.typedConfig)
        let filter = try #require(try resources.hcm(Names.egressListener).httpFilters.first)
        let filterConfig = try Envoy_Extensions_Filters_Http_DynamicForwardProxy_V3_FilterConfig(
            unpackingAny: filter.typedConfig)
        #expect(clusterConfig.dnsCacheConfig == filterConfig.dnsCacheConfig)
        #expect(clusterConfig.dnsCacheConfig.name == Names.dnsCache)
    }

    @Test("translation is pure: equal input, equal output")
    func deterministic() {
        let one = Translator.translate(Samples.desiredState(), for: .named("x"))
        let two = Translator.translate(Samples.desiredState(), for: .named("x"))
        #expect(one.clusters == two.clusters)
        #expect(one.listeners == two.listeners)
        #expect(one.routes == two.routes)
        #expect(one.extensionConfigs == two.extensionConfigs)
    }

    @Test("no middleware: the chain is the forward proxy, the guard and the router, and there is no ECDS")
    func noMiddleware() throws {
        let resources = Translator.translate(Samples.desiredState(middleware: []), for: .everyOther)
        #expect(resources.extensionConfigs.isEmpty)
        #expect(try resources.hcm(Names.egressListener).httpFilters.map(\.name) == [
            "envoy.filters.http.dynamic_forward_proxy", "envoy.filters.http.rbac", "envoy.filters.http.router",
        ])
    }
}
