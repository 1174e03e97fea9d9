import CoreMetrics
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
        /// When the latest response of each type was sent, for the push-to-ACK histogram.
        var sentAt: [ResourceType: ContinuousClock.Instant] = [:]
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
        let now = ContinuousClock.now
        var pushToAck: Duration?
        updateEntry(nodeID, stream) { entry in
            switch event {
            case .ack(let type, let version):
                let key = type
                // Only the first ACK of the version just sent measures push to ACK; a repeat
                // (a reconnect, a subscription change) would measure something else.
                if entry.status.sent[key] == version, entry.status.acked[key] != version, let sentAt = entry.sentAt[key] {
                    pushToAck = now - sentAt
                }
                entry.status.acked[key] = version
                if entry.status.lastNack?.type == key { entry.status.lastNack = nil }
            case .nack(let type, let version, let message):
                entry.status.nacks[type, default: 0] += 1
                entry.status.lastNack = .init(type: type, version: version, message: message, at: Date())
            case .staleNonce, .unknownType:
                break
            }
        }
        switch event {
        case .ack:
            if let pushToAck { Timer(label: "qpilot_xds_push_to_ack_seconds").recordNanoseconds(pushToAck.nanoseconds) }
        case .nack(let type, _, _):
            Counter(label: "qpilot_xds_nacks_total", dimensions: [("type", type.description)]).increment()
        case .staleNonce, .unknownType:
            break
        }
    }

    /// Counts a response sent.
    public func recordSent(_ type: ResourceType, version: String, nodeID: String, stream: Int) {
        let now = ContinuousClock.now
        updateEntry(nodeID, stream) { entry in
            entry.status.sent[type] = version
            entry.status.responses[type, default: 0] += 1
            entry.sentAt[type] = now
        }
        Counter(label: "qpilot_xds_responses_total", dimensions: [("type", type.description)]).increment()
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
        updateEntry(nodeID, stream) { body(&$0.status) }
    }

    private func updateEntry(_ nodeID: String, _ stream: Int, _ body: (inout Entry) -> Void) {
        entries.withLock { entries in
            guard var entry = entries[nodeID], entry.stream == stream else { return }
            body(&entry)
            entries[nodeID] = entry
        }
    }
}

extension Duration {
    /// The whole duration in nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product + attoseconds / 1_000_000_000
    }
}
