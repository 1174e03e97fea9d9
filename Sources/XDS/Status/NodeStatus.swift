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
    /// The latest NACK, kept until a later ACK of the same type replaces it.
    public var lastNack: Nack?

    /// Compares the node's ACKed versions to the snapshot it should hold.
    public func syncState(against snapshot: Snapshot?) -> SyncState {
        if lastNack != nil { return .nacked }
        guard let snapshot else { return .pending }
        for type in ResourceType.allCases where sent[type] != nil || acked[type] != nil {
            if acked[type] != snapshot.version(of: type) { return .pending }
        }
        return .inSync
    }
}
