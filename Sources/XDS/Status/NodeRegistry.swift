import CoreMetrics
import Foundation
import Synchronization

/// Per-node status, updated by the xDS streams and read by anyone.
///
/// Kept per stream: a second stream with a node's id never replaces the first silently; both
/// are shown while they are open. A node that reconnects drops the entries of its closed streams.
/// A node whose last stream closed is kept, marked disconnected, for `retention`, so an operator
/// can see it went away; then it is forgotten, so ids that come and go cannot grow the registry.
public final class NodeRegistry: Sendable {
    private struct Entry {
        var status: NodeStatus
        /// When the latest response of each type was sent, for the push-to-ACK histogram.
        var sentAt: [ResourceType: ContinuousClock.Instant] = [:]
        var disconnectedAt: ContinuousClock.Instant?
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        /// The streams of each node id, so that a node's work never scans the whole registry.
        var byNode: [String: Set<Int>] = [:]
        var lastPurge = ContinuousClock.now

        mutating func remove(_ stream: Int) {
            guard let entry = entries.removeValue(forKey: stream) else { return }
            byNode[entry.status.nodeID]?.remove(stream)
            if byNode[entry.status.nodeID]?.isEmpty == true { byNode[entry.status.nodeID] = nil }
        }

        func streams(of nodeID: String) -> [(stream: Int, entry: Entry)] {
            (byNode[nodeID] ?? []).compactMap { stream in entries[stream].map { (stream, $0) } }
        }
    }

    private let state = Mutex(State())
    private let streamCounter = Atomic<Int>(0)
    let retention: Duration

    public init(retention: Duration = .seconds(600)) {
        self.retention = retention
    }

    /// Records a new stream for a node and returns the stream's id.
    public func connect(nodeID: String, fleet: String, envoyVersion: String, flavour: String) -> Int {
        let stream = streamCounter.wrappingAdd(1, ordering: .relaxed).newValue
        let status = NodeStatus(
            nodeID: nodeID, fleet: fleet, envoyVersion: envoyVersion, protocolFlavour: flavour,
            connected: true, connectedSince: Date(), acked: [:], sent: [:], responses: [:], nacks: [:],
            lastNack: nil)
        let now = ContinuousClock.now
        state.withLock { state in
            // The node's closed streams give way to the new one.
            for (old, entry) in state.streams(of: nodeID) where entry.disconnectedAt != nil { state.remove(old) }
            // Nodes gone for longer than the retention, at most once a minute: a scan of every entry.
            if now - state.lastPurge > .seconds(60) {
                state.lastPurge = now
                for (old, entry) in state.entries {
                    if let since = entry.disconnectedAt, now - since >= retention { state.remove(old) }
                }
            }
            state.entries[stream] = Entry(status: status)
            state.byNode[nodeID, default: []].insert(stream)
        }
        return stream
    }

    /// How many open streams carry this node id.
    public func connectedStreams(of nodeID: String) -> Int {
        state.withLock { $0.streams(of: nodeID).filter { $0.entry.status.connected }.count }
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

    /// Marks the stream closed. When another stream of the node is open, the closed one is
    /// dropped; otherwise it stays, disconnected, for `retention`.
    public func disconnect(nodeID: String, stream: Int) {
        let now = ContinuousClock.now
        state.withLock { state in
            guard var entry = state.entries[stream] else { return }
            if state.streams(of: entry.status.nodeID).contains(where: { $0.stream != stream && $0.entry.status.connected }) {
                state.remove(stream)
                return
            }
            entry.status.connected = false
            entry.disconnectedAt = now
            state.entries[stream] = entry
        }
    }

    /// Every stream's status, by node id, the newest stream of a node first; a disconnected
    /// node only until `retention` has passed.
    public func all() -> [NodeStatus] {
        let now = ContinuousClock.now
        return state.withLock { state in
            state.entries.filter { $0.value.disconnectedAt.map { now - $0 < retention } ?? true }
        }
        .sorted { ($0.value.status.nodeID, -$0.key) < ($1.value.status.nodeID, -$1.key) }
        .map(\.value.status)
    }

    /// One node: its newest open stream, else its newest stream (while retained).
    public func status(of nodeID: String) -> NodeStatus? {
        let now = ContinuousClock.now
        let streams = state.withLock { $0.streams(of: nodeID) }
            .filter { $0.entry.disconnectedAt.map { now - $0 < retention } ?? true }
            .sorted { $0.stream > $1.stream }
            .map(\.entry.status)
        return streams.first(where: \.connected) ?? streams.first
    }

    private func updateEntry(_ nodeID: String, _ stream: Int, _ body: (inout Entry) -> Void) {
        state.withLock { state in
            guard var entry = state.entries[stream] else { return }
            body(&entry)
            state.entries[stream] = entry
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
