import EnvoyAPI
import SwiftProtobuf

extension Translator {
    /// `qpilot_egress`: forward proxy for explicit-proxy requests (`curl -x`), Host-routed requests
    /// and CONNECT. Chain: dynamic_forward_proxy, the internal-destination guard, the middleware
    /// (one ECDS resource each), router.
    static func egressListener(_ egress: DesiredState.Egress, chain: [Middleware]) -> Listener {
        var hcm = middlewareHCM(statPrefix: Names.egressListener, route: Names.egressRoute, egress: egress, chain: chain)
        var connect = HCM.UpgradeConfig()
        connect.upgradeType = "CONNECT"
        hcm.upgradeConfigs = [connect]
        // Python's http.client before 3.12 (and so requests and urllib3 on Debian 12) sends
        // CONNECT as HTTP/1.0, which Envoy answers with 426 unless told to accept it.
        var http1 = Envoy_Config_Core_V3_Http1ProtocolOptions()
        http1.acceptHTTP10 = true
        hcm.httpProtocolOptions = http1
        var http2 = Envoy_Config_Core_V3_Http2ProtocolOptions()
        http2.allowConnect = true
        hcm.http2ProtocolOptions = http2

        var listener = Listener()
        listener.name = Names.egressListener
        listener.address = socketAddress(egress.address, egress.port)
        listener.filterChains = [filterChain(hcm)]
        return listener
    }

    /// The HTTP connection manager of a listener that runs the middleware (`qpilot_egress`,
    /// `qpilot_tls`): dynamic_forward_proxy, the internal-destination guard, the middleware (one
    /// ECDS resource each), router; codec AUTO; routes over RDS; the egress access log.
    static func middlewareHCM(statPrefix: String, route: String, egress: DesiredState.Egress, chain: [Middleware]) -> HCM {
        var filters = [forwardProxyFilter(), egressGuardFilter(allow: egress.allowInternal)]
        filters += chain.map(middlewareFilter)
        filters.append(routerFilter())

        var hcm = HCM()
        hcm.statPrefix = statPrefix
        hcm.codecType = .auto
        var rds = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_Rds()
        rds.configSource = adsSource()
        rds.routeConfigName = route
        hcm.rds = rds
        hcm.httpFilters = filters
        if let path = egress.accessLog { hcm.accessLog = [fileAccessLog(path)] }
        return hcm
    }

    /// `qpilot_callout`: an internal listener with the forward proxy, the guard and router but no middleware,
    /// so callouts never re-enter the chain, with its own stats prefix and access log.
    static func calloutListener(_ callout: DesiredState.Callout, allowInternal: [InternalDestination]) -> Listener {
        var hcm = HCM()
        hcm.statPrefix = Names.calloutListener
        var rds = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_Rds()
        rds.configSource = adsSource()
        rds.routeConfigName = Names.calloutRoute
        hcm.rds = rds
        hcm.httpFilters = [forwardProxyFilter(), egressGuardFilter(allow: allowInternal), routerFilter()]
        if let path = callout.accessLog { hcm.accessLog = [fileAccessLog(path)] }

        var listener = Listener()
        listener.name = Names.calloutListener
        listener.internalListener = Listener.InternalListenerConfig()
        listener.filterChains = [filterChain(hcm)]
        listener.statPrefix = Names.calloutListener
        return listener
    }

    /// Every host, every path, to the forward-proxy cluster; CONNECT too on the egress listener.
    static func forwardProxyRoute(name: String, connect: Bool) -> RouteConfiguration {
        var config = RouteConfiguration()
        config.name = name
        config.virtualHosts = [anyHost(connect: connect)]
        return config
    }

    static func anyHost(connect: Bool) -> Envoy_Config_Route_V3_VirtualHost {
        var host = Envoy_Config_Route_V3_VirtualHost()
        host.name = "any"
        host.domains = ["*"]
        host.routes = (connect ? [connectRoute(to: Names.forwardProxyCluster)] : []) + [forwardRoute(to: Names.forwardProxyCluster)]
        return host
    }

    /// CONNECT, terminated here: the tunnel's bytes go to `cluster` as a TCP stream.
    static func connectRoute(to cluster: String) -> Envoy_Config_Route_V3_Route {
        var match = Envoy_Config_Route_V3_RouteMatch()
        match.connectMatcher = Envoy_Config_Route_V3_RouteMatch.ConnectMatcher()
        var upgrade = Envoy_Config_Route_V3_RouteAction.UpgradeConfig()
        upgrade.upgradeType = "CONNECT"
        upgrade.connectConfig = Envoy_Config_Route_V3_RouteAction.UpgradeConfig.ConnectConfig()
        var action = Envoy_Config_Route_V3_RouteAction()
        action.cluster = cluster
        action.upgradeConfigs = [upgrade]
        var route = Envoy_Config_Route_V3_Route()
        route.name = "connect"
        route.match = match
        route.route = action
        return route
    }

    /// Every path to `cluster`.
    static func forwardRoute(to cluster: String) -> Envoy_Config_Route_V3_Route {
        var match = Envoy_Config_Route_V3_RouteMatch()
        match.prefix = "/"
        var action = Envoy_Config_Route_V3_RouteAction()
        action.cluster = cluster
        var route = Envoy_Config_Route_V3_Route()
        route.name = "forward"
        route.match = match
        route.route = action
        return route
    }

    static func filterChain(_ hcm: HCM) -> Envoy_Config_Listener_V3_FilterChain {
        var filter = Envoy_Config_Listener_V3_Filter()
        filter.name = "envoy.filters.network.http_connection_manager"
        filter.typedConfig = pack(hcm)
        var chain = Envoy_Config_Listener_V3_FilterChain()
        chain.filters = [filter]
        return chain
    }

    static func forwardProxyFilter() -> HttpFilter {
        var config = Envoy_Extensions_Filters_Http_DynamicForwardProxy_V3_FilterConfig()
        config.dnsCacheConfig = dnsCache()
        config.saveUpstreamAddress = true  // for egressGuardFilter
        return httpFilter("envoy.filters.http.dynamic_forward_proxy", config)
    }

    static func routerFilter() -> HttpFilter {
        httpFilter("envoy.filters.http.router", Envoy_Extensions_Filters_Http_Router_V3_Router())
    }

    /// A static HTTP filter: its extension name and its typed config.
    static func httpFilter(_ name: String, _ config: some SwiftProtobuf.Message) -> HttpFilter {
        var filter = HttpFilter()
        filter.name = name
        filter.typedConfig = pack(config)
        return filter
    }

    static func fileAccessLog(_ path: String) -> Envoy_Config_Accesslog_V3_AccessLog {
        var file = Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog()
        file.path = path
        var log = Envoy_Config_Accesslog_V3_AccessLog()
        log.name = "envoy.access_loggers.file"
        log.typedConfig = pack(file)
        return log
    }
}
