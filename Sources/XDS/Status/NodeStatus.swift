import Foundation
import QpilotAPI

/// What qpilot knows about one Envoy node, read-only for status commands and tests.
public struct NodeStatus: Sendable, Equatable, Codable {
    /// A rejected response, with Envoy's own message.
    public struct Nack: Sendable, Equatable, Codable {
        public var type: ResourceType
        public var version: String
        public var message: String
        public var at: Date
        /// The ECDS resource Envoy refused, for a NACK of one middleware.
        public var resource: String?
    }

    /// A version of one resource that this node refused. Remembered per node across reconnects
    /// and restarts (see `NodeRegistry`).
    public struct Rejection: Sendable, Equatable, Codable {
        public var version: String
        public var message: String
        public var at: Date
        /// The version the node had ACKed before, which it keeps running; nil when unknown.
        public var serving: String?

        public init(version: String, message: String, at: Date, serving: String?) {
            self.version = version
            self.message = message
            self.at = at
            self.serving = serving
        }
    }

    /// A version whose module the node is downloading: Envoy refused it until it holds the
    /// module, and qpilot sends it again (remote delivery).
    public struct Fetching: Sendable, Equatable, Codable {
        public var version: String
        public var since: Date
        /// Sends of this version so far.
        public var attempts: Int

        public init(version: String, since: Date, attempts: Int) {
            self.version = version
            self.since = since
            self.attempts = attempts
        }
    }

    /// Where one ECDS resource (one middleware's filter config) stands on this node.
    public struct FilterState: Sendable, Equatable, Codable {
        /// The version Envoy ACKed and runs, as far as qpilot knows.
        public var acked: String?
        /// A version Envoy refused; while it is the desired one, the node is `nacked`.
        public var rejected: Rejection?
        /// A version waiting for its module to be downloaded; while it is the desired one, the
        /// node is `fetching`.
        public var fetching: Fetching?

        public init(acked: String?, rejected: Rejection?, fetching: Fetching? = nil) {
            self.acked = acked
            self.rejected = rejected
            self.fetching = fetching
        }
    }

    public var nodeID: String
    public var fleet: String
    public var envoyVersion: String
    /// `sotw` or `delta`.
    public var protocolFlavour: String
    public var connected: Bool
    public var connectedSince: Date
    /// Last ACKed version per type.
    public var acked: [ResourceType: String]
    /// Last sent version per type.
    public var sent: [ResourceType: String]
    /// Responses sent per type on this stream.
    public var responses: [ResourceType: Int]
    /// NACKs received per type on this stream.
    public var nacks: [ResourceType: Int]
    /// The latest NACK, kept until a later ACK of the same type replaces it (for ECDS: until no
    /// middleware of the node is rejected).
    public var lastNack: Nack?
    /// ECDS resources by name.
    public var filters: [String: FilterState] = [:]

    /// Compares what the node runs to the snapshot it should hold: `nacked` while it refuses a
    /// version the snapshot still wants, `pending` while anything else differs.
    public func syncState(against snapshot: Snapshot?) -> SyncState {
        guard let snapshot else { return lastNack != nil ? .nacked : .pending }
        if !rejectedFilters(against: snapshot).isEmpty { return .nacked }
        if let lastNack, lastNack.type != .extensionConfig { return .nacked }
        if !fetchingFilters(desired: snapshot.filterVersions).isEmpty { return .fetching }
        // On-demand types (certificates) are not config: each node holds what it asked for.
        for type in ResourceType.allCases where !type.isOnDemand && (sent[type] != nil || acked[type] != nil) {
            if type.sendsOneAtATime {
                let desired = snapshot.resources(of: type)
                if desired.contains(where: { filters[$0.key]?.acked != $0.value.version }) { return .pending }
            } else if acked[type] != snapshot.version(of: type) {
                return .pending
            }
        }
        return .inSync
    }

    /// The ECDS resources whose desired version (name → version) this node refused.
    public func rejectedFilters(desired: [String: String]) -> [String: Rejection] {
        filters.compactMapValues { filter in filter.rejected }.filter { desired[$0.key] == $0.value.version }
    }

    /// The ECDS resources whose desired version (name → version) this node is fetching the module of.
    public func fetchingFilters(desired: [String: String]) -> [String: Fetching] {
        filters.compactMapValues(\.fetching).filter { desired[$0.key] == $0.value.version && filters[$0.key]?.acked != $0.value.version }
    }

    /// The ECDS resources whose version in the snapshot this node refused.
    public func rejectedFilters(against snapshot: Snapshot) -> [String: Rejection] {
        rejectedFilters(desired: snapshot.filterVersions)
    }

    /// The ACKed version of each ECDS resource, without those refused at the version Envoy
    /// reported: what the node runs.
    public var ackedFilters: [String: String] { filters.compactMapValues(\.acked) }
}
