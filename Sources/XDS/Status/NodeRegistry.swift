import Foundation
import Synchronization

/// Per-node status, updated by the xDS streams and read by anyone.
///
/// Keyed by node id: a node that reconnects replaces its old entry. A node that disconnects is
/// kept, marked disconnected, so an operator can see it went away.
public final class NodeRegistry: Sendable {
    private struct Entry {
        var stream: Int
        var status: NodeStatus
    }

    private let entries = Mutex([String: Entry]())
    private let streamCounter = Atomic<Int>(0)

    public init() {}

    /// Records a new stream for a node and returns the stream's id.
    public func connect(nodeID: String, fleet: String, envoyVersion: String, flavour: String) -> Int {
        let stream = streamCounter.wrappingAdd(1, ordering: .relaxed).newValue
        let status = NodeStatus(
            nodeID: nodeID, fleet: fleet, envoyVersion: envoyVersion, protocolFlavour: flavour,
            connected: true, connectedSince: Date(), acked: [:], sent: [:], responses: [:], nacks: [:],
            lastNack: nil)
        entries.withLock { $0[nodeID] = Entry(stream: stream, status: status) }
        return stream
    }

    /// Applies what one request taught us.
    public func record(_ event: ProtocolEvent, nodeID: String, stream: Int) {
        update(nodeID, stream) { status in
            switch event {
            case .ack(let type, let version):
                status.acked[type.description] = version
                if status.lastNack?.type == type.description { status.lastNack = nil }
            case .nack(let type, let version, let message):
                status.nacks[type.description, default: 0] += 1
                status.lastNack = .init(type: type.description, version: version, message: message, at: Date())
            case .staleNonce, .unknownType:
                break
            }
        }
    }

    /// Counts a response sent.
    public func recordSent(_ type: ResourceType, version: String, nodeID: String, stream: Int) {
        update(nodeID, stream) { status in
            status.sent[type.description] = version
            status.responses[type.description, default: 0] += 1
        }
    }

    /// Marks the node's stream closed, unless a newer stream has replaced it.
    public func disconnect(nodeID: String, stream: Int) {
        update(nodeID, stream) { $0.connected = false }
    }

    /// Every node, sorted by id.
    public func all() -> [NodeStatus] {
        entries.withLock { $0.values.map(\.status) }.sorted { $0.nodeID < $1.nodeID }
    }

    /// One node.
    public func status(of nodeID: String) -> NodeStatus? {
        entries.withLock { $0[nodeID]?.status }
    }

    private func update(_ nodeID: String, _ stream: Int, _ body: (inout NodeStatus) -> Void) {
        entries.withLock { entries in
            guard var entry = entries[nodeID], entry.stream == stream else { return }
            body(&entry.status)
            entries[nodeID] = entry
        }
    }
}
