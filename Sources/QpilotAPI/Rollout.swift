import Foundation

/// `GET /v1/rollouts/<revision>`: which nodes of the fleets a revision changed hold it.
public struct RolloutView: Codable, Sendable, Equatable {
    /// One node's progress on this revision.
    public struct NodeProgress: Codable, Sendable, Equatable {
        public var nodeID: String
        public var fleet: String
        /// `acked`, `nacked` or `pending`.
        public var state: String
        /// Envoy's own message, for a NACK.
        public var message: String?

        public init(nodeID: String, fleet: String, state: String, message: String? = nil) {
            self.nodeID = nodeID
            self.fleet = fleet
            self.state = state
            self.message = message
        }
    }

    public var revision: Int
    /// `complete` (every connected node of the changed fleets ACKed; also when none is connected),
    /// `failed` (some node NACKed), `in-progress`, or `superseded` (a later revision replaced it
    /// before every node took it).
    public var state: String
    /// The fleets whose Envoy config this revision changed; `*` stands for nodes whose fleet has
    /// no middleware of its own.
    public var fleets: [String]
    public var nodes: [NodeProgress]
    public var acked: Int
    public var nacked: Int
    public var pending: Int
    /// When the revision's config was published.
    public var publishedAt: Date

    public init(
        revision: Int, state: String, fleets: [String], nodes: [NodeProgress], acked: Int, nacked: Int, pending: Int,
        publishedAt: Date
    ) {
        self.revision = revision
        self.state = state
        self.fleets = fleets
        self.nodes = nodes
        self.acked = acked
        self.nacked = nacked
        self.pending = pending
        self.publishedAt = publishedAt
    }
}
