/// The xDS resource types that qpilot serves, in make-before-break order.
///
/// Envoy must learn about a cluster before a route points at it, and about a listener before the
/// ECDS filter configs its chain names, so responses for one snapshot go out in the order of
/// `allCases`: CDS, EDS, LDS, RDS, then ECDS.
public enum ResourceType: Int, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    case cluster
    case endpoint
    case listener
    case route
    case extensionConfig

    /// The type URL that Envoy puts in `DiscoveryRequest.type_url`.
    public var typeURL: String {
        switch self {
        case .cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster"
        case .endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
        case .listener: "type.googleapis.com/envoy.config.listener.v3.Listener"
        case .route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
        case .extensionConfig: "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
        }
    }

    /// Finds the type for a type URL, or nil for one qpilot does not serve.
    public init?(typeURL: String) {
        guard let match = Self.allCases.first(where: { $0.typeURL == typeURL }) else { return nil }
        self = match
    }

    /// LDS and CDS are "state of the world" types: a response carries every resource, and an empty
    /// subscription means "all of them" (wildcard).
    public var isWildcardByDefault: Bool {
        self == .cluster || self == .listener
    }

    /// A short name for logs and status: `CDS`, `EDS`, `LDS`, `RDS`, `ECDS`.
    public var description: String {
        switch self {
        case .cluster: "CDS"
        case .endpoint: "EDS"
        case .listener: "LDS"
        case .route: "RDS"
        case .extensionConfig: "ECDS"
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
