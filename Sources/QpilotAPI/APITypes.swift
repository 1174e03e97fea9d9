import Foundation

/// The admin API's JSON types, shared by qpilot and qctl. Nothing here does I/O.

/// Every error body: `{code, message, details}`.
public struct APIErrorBody: Codable, Sendable, Equatable {
    /// A stable, machine-readable code such as `unauthorized` or `not_found`.
    public var code: APIErrorCode
    /// What happened and what to do, for a person.
    public var message: String
    public var details: [String: String]?

    public init(code: APIErrorCode, message: String, details: [String: String]? = nil) {
        self.code = code
        self.message = message
        self.details = details
    }
}

/// One Envoy node as `GET /v1/nodes` reports it.
public struct NodeView: Codable, Sendable, Equatable {
    public struct Nack: Codable, Sendable, Equatable {
        public var type: ConfigType
        public var version: String
        public var message: String
        public var at: Date
        public init(type: ConfigType, version: String, message: String, at: Date) {
            self.type = type
            self.version = version
            self.message = message
            self.at = at
        }
    }

    public var nodeID: String
    public var fleet: String
    public var envoyVersion: String
    /// `sotw` or `delta`.
    public var protocolFlavour: String
    public var connected: Bool
    public var connectedSince: Date
    public var state: SyncState
    /// Last ACKed version per type.
    public var acked: ConfigVersions
    /// The versions the node should hold, per type.
    public var desired: ConfigVersions
    public var lastNack: Nack?
    /// Each middleware of the node's fleet: the version it should run, the one Envoy ACKed, and a
    /// refusal, one middleware at a time (Envoy refuses each on its own).
    public var middleware: [MiddlewareOnNode]
    /// The node's client certificate when xDS runs with TLS and the node enrolled.
    public var certificate: NodeCertificateView?

    public init(
        nodeID: String, fleet: String, envoyVersion: String, protocolFlavour: String, connected: Bool, connectedSince: Date,
        state: SyncState, acked: ConfigVersions, desired: ConfigVersions, lastNack: Nack?, middleware: [MiddlewareOnNode] = []
    ) {
        self.middleware = middleware
        self.nodeID = nodeID
        self.fleet = fleet
        self.envoyVersion = envoyVersion
        self.protocolFlavour = protocolFlavour
        self.connected = connected
        self.connectedSince = connectedSince
        self.state = state
        self.acked = acked
        self.desired = desired
        self.lastNack = lastNack
    }
}

/// One middleware on one node.
public struct MiddlewareOnNode: Codable, Sendable, Equatable {
    /// A config version the node refused; Envoy keeps running the previous one.
    public struct Rejection: Codable, Sendable, Equatable {
        public var version: String
        /// Envoy's message.
        public var message: String
        public var at: Date
        /// The version the node still runs, when qpilot saw it ACK one.
        public var serving: String?
        /// The newest revision that published `serving` to this node's fleet, when the rollout
        /// records still hold it (store mode).
        public var servingRevision: Int?

        public init(version: String, message: String, at: Date, serving: String?, servingRevision: Int?) {
            self.version = version
            self.message = message
            self.at = at
            self.serving = serving
            self.servingRevision = servingRevision
        }
    }

    public var name: String
    /// `in-sync` when the node runs the desired version, `nacked` when it refused it, else `pending`.
    public var state: SyncState
    /// The version of its filter config that the node should run. (Only middleware the fleet has
    /// are listed, so it is always set; it is optional for clients of older servers.)
    public var desired: String?
    /// The version the node ACKed and runs, as far as qpilot knows.
    public var acked: String?
    public var rejected: Rejection?

    public init(name: String, state: SyncState, desired: String?, acked: String?, rejected: Rejection?) {
        self.name = name
        self.state = state
        self.desired = desired
        self.acked = acked
        self.rejected = rejected
    }
}

/// Whether a node holds what its fleet should hold now.
public enum SyncState: String, Vocabulary {
    case inSync = "in-sync"
    case pending
    case nacked
    /// Envoy is downloading a module from qpilot's module endpoint (remote delivery); qpilot
    /// sends the config again once it has.
    case fetching

}

/// `GET /v1/nodes`.
public struct NodeList: Codable, Sendable, Equatable {
    public var nodes: [NodeView]
    public init(nodes: [NodeView]) { self.nodes = nodes }
}

/// `GET /v1/config`: what qpilot last published, and the last refusal.
public struct ConfigStatusView: Codable, Sendable, Equatable {
    public var generation: Int
    public var published: Bool
    /// Middleware names in chain order.
    public var middleware: [String]
    /// Why the latest reload was refused, when it was.
    public var lastError: String?

    public init(generation: Int, published: Bool, middleware: [String], lastError: String?) {
        self.generation = generation
        self.published = published
        self.middleware = middleware
        self.lastError = lastError
    }
}

/// Shared JSON settings: ISO 8601 dates, sorted keys.
public enum APIJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
