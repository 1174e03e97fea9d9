import Foundation

/// What qpilot knows about one Envoy node, read-only for status commands and tests.
public struct NodeStatus: Sendable, Equatable, Codable {
    /// A rejected response, with Envoy's own message.
    public struct Nack: Sendable, Equatable, Codable {
        public var type: String
        public var version: String
        public var message: String
        public var at: Date
    }

    /// Whether the node holds what its fleet's snapshot says it should.
    public enum SyncState: String, Sendable, Codable {
        case inSync = "in-sync"
        case pending
        case nacked
    }

    public var nodeID: String
    public var fleet: String
    public var envoyVersion: String
    /// `sotw` or `delta`.
    public var protocolFlavour: String
    public var connected: Bool
    public var connectedSince: Date
    /// Last ACKed version per type, keyed by `CDS`, `LDS`, ….
    public var acked: [String: String]
    /// Last sent version per type.
    public var sent: [String: String]
    /// Responses sent per type on this stream.
    public var responses: [String: Int]
    /// NACKs received per type on this stream.
    public var nacks: [String: Int]
    /// The latest NACK, kept until a later ACK of the same type replaces it.
    public var lastNack: Nack?

    /// Compares the node's ACKed versions to the snapshot it should hold.
    public func syncState(against snapshot: Snapshot?) -> SyncState {
        if lastNack != nil { return .nacked }
        guard let snapshot else { return .pending }
        for type in ResourceType.allCases where sent[type.description] != nil || acked[type.description] != nil {
            if acked[type.description] != snapshot.version(of: type) { return .pending }
        }
        return .inSync
    }
}
