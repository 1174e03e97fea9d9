import EnvoyAPI
import QpilotAPI

/// The Envoy resources for one fleet, as typed messages. The xDS layer encodes them.
public struct EnvoyResources: Sendable {
    public var clusters: [Envoy_Config_Cluster_V3_Cluster] = []
    public var listeners: [Envoy_Config_Listener_V3_Listener] = []
    public var routes: [Envoy_Config_Route_V3_RouteConfiguration] = []
    public var extensionConfigs: [Envoy_Config_Core_V3_TypedExtensionConfig] = []
    /// The hosts intercepted for this fleet: the only names its nodes may get a certificate for.
    public var interceptedHosts: [HostPattern] = []

    public init() {}
}

/// The names qpilot gives to what it generates; Envoy's stats and logs use them.
public enum Names {
    public static let egressListener = "qpilot_egress"
    public static let egressRoute = "qpilot_egress"
    public static let calloutListener = "qpilot_callout"
    public static let calloutCluster = "qpilot_callout"
    public static let calloutRoute = "qpilot_callout"
    public static let forwardProxyCluster = "qpilot_dfp"
    public static let dnsCache = "qpilot_dns"
    public static let moduleCluster = "qpilot_modules"
    /// The internal listener that terminates intercepted TLS, and the cluster that leads to it.
    public static let interceptListener = "qpilot_tls"
    public static let interceptCluster = "qpilot_tls"
    public static let interceptRoute = "qpilot_tls"
    /// The dynamic forward proxy that opens verified TLS connections to origins.
    public static let tlsForwardProxyCluster = "qpilot_dfp_tls"

    /// The ECDS resource and HTTP filter name of a middleware.
    public static func filter(_ middleware: String) -> String { filterPrefix + middleware }

    /// The middleware an ECDS resource name stands for, or nil for a name qpilot did not make.
    public static func middleware(ofFilter name: String) -> String? {
        name.hasPrefix(filterPrefix) ? String(name.dropFirst(filterPrefix.count)) : nil
    }

    static let filterPrefix = "qpilot.middleware."
}
