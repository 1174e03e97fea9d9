import QpilotAPI

/// The xDS resource types that qpilot serves. The order responses go out in is `sendOrder`.
public enum ResourceType: Int, CaseIterable, Sendable, Comparable, Codable, CustomStringConvertible {
    case cluster
    case endpoint
    case listener
    case route
    case extensionConfig
    /// SDS: the TLS certificates of intercepted names, made when a node asks for one.
    case secret

    /// The type URL that Envoy puts in `DiscoveryRequest.type_url`.
    public var typeURL: String {
        switch self {
        case .cluster: "type.googleapis.com/envoy.config.cluster.v3.Cluster"
        case .endpoint: "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
        case .listener: "type.googleapis.com/envoy.config.listener.v3.Listener"
        case .route: "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
        case .extensionConfig: "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"
        case .secret: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
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

    /// ECDS resources go one per response, in SotW and Delta alike, so that a NACK names the one
    /// middleware Envoy refused and holds back only that one. Envoy builds each filter config on its
    /// own subscription (one name each), so nothing is lost by splitting the response.
    ///
    /// It is also the type where Envoy 1.40 skips a config identical to the last one it received,
    /// even one it rejected, and ACKs it without building it: an ACK of a version that node
    /// rejected before is no proof it runs (see `NodeRegistry`).
    public var sendsOneAtATime: Bool { self == .extensionConfig }

    /// Resources made when a node asks for them by name, not in advance (`OnDemandResources`).
    /// Each node holds only the names it asked for, so a SotW response is labelled with the
    /// versions of what that node holds, not with the fleet's version of the type, and a node's
    /// config sync state leaves these types out.
    public var isOnDemand: Bool { self == .secret }

    /// The name status and rollouts use for this type.
    public var configType: ConfigType {
        switch self {
        case .cluster: .clusters
        case .endpoint: .endpoints
        case .listener: .listeners
        case .route: .routes
        case .extensionConfig: .middleware
        case .secret: .secrets
        }
    }

    /// A short name for logs and metrics: `CDS`, `EDS`, `LDS`, `RDS`, `ECDS`, `SDS`.
    public var description: String { configType.rawValue }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension ResourceType {
    /// Make before break: clusters before the routes that name them, and ECDS filter configs
    /// before the listener whose chain names them. Envoy asks for an ECDS name only once a
    /// listener names it, so for a new name this changes nothing; but a subscription outlives
    /// its listener while that listener drains, and a new listener starts from the subscription's
    /// last received config, even one Envoy NACKed. Sending the good config first means the new
    /// listener never starts from a refused one.
    static let sendOrder: [ResourceType] = [.cluster, .endpoint, .secret, .extensionConfig, .listener, .route]

    /// `sendOrder`, except that a type that drops resources goes after every other type, in
    /// reverse order: the listener stops naming a filter config before the config goes away
    /// (Envoy would otherwise apply the default config to traffic still on that listener).
    static func breakOrder(dropping: (ResourceType) -> Bool) -> [ResourceType] {
        let drops = sendOrder.filter(dropping)
        return sendOrder.filter { !drops.contains($0) } + drops.reversed()
    }
}
