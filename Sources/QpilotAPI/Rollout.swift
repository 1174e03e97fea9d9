import Foundation

/// `GET /v1/rollouts/<revision>`: which nodes of the fleets a revision changed hold it.
public struct RolloutView: Codable, Sendable, Equatable {
    /// One node's progress on this revision.
    public struct NodeProgress: Codable, Sendable, Equatable {
        public var nodeID: String
        public var fleet: String
        public var state: NodeRolloutState
        /// Envoy's own message, for a NACK.
        public var message: String?
        /// The middleware the node refused, for a NACK of one middleware's config, or whose module
        /// it is fetching.
        public var middleware: String?

        public init(nodeID: String, fleet: String, state: NodeRolloutState, message: String? = nil, middleware: String? = nil) {
            self.nodeID = nodeID
            self.fleet = fleet
            self.state = state
            self.message = message
            self.middleware = middleware
        }
    }

    public var revision: Int
    public var state: RolloutState
    /// The fleets whose Envoy config this revision changed; `*` stands for nodes whose fleet has
    /// no middleware of its own.
    public var fleets: [FleetKey]
    public var nodes: [NodeProgress]
    public var acked: Int
    public var nacked: Int
    public var pending: Int
    /// Nodes downloading a module of this revision (remote delivery); not counted in `pending`.
    public var fetching: Int
    /// When the revision's config was published.
    public var publishedAt: Date

    public init(
        revision: Int, state: RolloutState, fleets: [FleetKey], nodes: [NodeProgress], acked: Int, nacked: Int, pending: Int,
        fetching: Int = 0, publishedAt: Date
    ) {
        self.revision = revision
        self.state = state
        self.fleets = fleets
        self.nodes = nodes
        self.acked = acked
        self.nacked = nacked
        self.pending = pending
        self.fetching = fetching
        self.publishedAt = publishedAt
    }
}

/// Where a revision's rollout stands.
public enum RolloutState: String, Vocabulary {
    /// Every connected node of the changed fleets ACKed (also when none is connected).
    case complete
    /// Some node NACKed.
    case failed
    case inProgress = "in-progress"
    /// A later revision replaced it before every node took it.
    case superseded


}

/// One node's progress on a revision.
public enum NodeRolloutState: String, Vocabulary {
    case acked, nacked, pending
    /// Envoy is downloading the module from qpilot's module endpoint (remote delivery); qpilot
    /// sends the config again once it has.
    case fetching

}
