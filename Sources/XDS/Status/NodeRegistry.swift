import CoreMetrics
import Foundation
import Synchronization

/// Per-node status, updated by the xDS streams and read by anyone.
///
/// Kept per stream: a second stream with a node's id never replaces the first silently; both
/// are shown while they are open. A node that reconnects drops the entries of its closed streams.
/// A node whose last stream closed is kept, marked disconnected, for `retention`, so an operator
/// can see it went away; then it is forgotten, so ids that come and go cannot grow the registry.
///
/// **Rejections are remembered per node and ECDS resource**, beyond the stream: Envoy 1.40 skips
/// an ECDS config identical to the last one it received, even one it rejected, and ACKs it
/// without building it. After a reconnect (a network blip, a qpilot restart) qpilot sends the
/// desired config again; that ACK is no proof the node runs it. So an ACK of a version the node
/// refused never clears the refusal; only an ACK of another version, re-sent on this stream,
/// does (what a reconnecting client says it holds was never re-sent, and clears nothing). Each
/// change to this memory goes to the `RejectionLog` in the order it happened (under the
/// registry's lock), which saves it; a new registry starts from what was saved (`remembered`).
public final class NodeRegistry: Sendable {
    private struct Entry {
        var status: NodeStatus
        /// When the latest response of each type was sent, for the push-to-ACK histogram.
        var sentAt: [ResourceType: ContinuousClock.Instant] = [:]
        var disconnectedAt: ContinuousClock.Instant?
    }

    private struct State {
        var entries: [Int: Entry] = [:]
        /// Refused ECDS versions: node id → resource name → rejection.
        var remembered: [String: [String: NodeStatus.Rejection]] = [:]
        var rememberedCount = 0
        /// The streams of each node id, so that a node's work never scans the whole registry.
        var byNode: [String: Set<Int>] = [:]
        var lastPurge = ContinuousClock.now

        mutating func remove(_ stream: Int) {
            guard let entry = entries.removeValue(forKey: stream) else { return }
            byNode[entry.status.nodeID]?.remove(stream)
            if byNode[entry.status.nodeID]?.isEmpty == true { byNode[entry.status.nodeID] = nil }
        }

        /// Forgets one rejection; true when there was one.
        mutating func forget(_ nodeID: String, _ name: String) -> Bool {
            guard remembered[nodeID]?.removeValue(forKey: name) != nil else { return false }
            if remembered[nodeID]?.isEmpty == true { remembered[nodeID] = nil }
            rememberedCount -= 1
            return true
        }

        /// Beyond `limit`, forgets the oldest rejections down to 90% of it, so the sort this takes
        /// runs once per tenth of the limit, not on every NACK.
        mutating func evictOldest(beyond limit: Int) -> [RejectionChange] {
            guard rememberedCount > limit else { return [] }
            let oldest = remembered.flatMap { node, byName in byName.map { (node, $0.key, $0.value.at) } }
                .sorted { $0.2 < $1.2 }.prefix(rememberedCount - (limit - limit / 10))
            return oldest.compactMap { node, name, _ in forget(node, name) ? .forget(node: node, resource: name) : nil }
        }

        func streams(of nodeID: String) -> [(stream: Int, entry: Entry)] {
            (byNode[nodeID] ?? []).compactMap { stream in entries[stream].map { (stream, $0) } }
        }
    }

    private let state = Mutex(State())
    private let streamCounter = Atomic<Int>(0)
    let retention: Duration
    /// The most rejections remembered; beyond it the oldest are forgotten. Each takes a node that
    /// refused a middleware's config, so a fleet of thousands stays far below.
    let maxRemembered: Int

    let log: (any RejectionLog)?

    /// - Parameters:
    ///   - remembered: the rejections a previous process saved, node id → resource name.
    ///   - log: where each change to the remembered rejections goes, in order.
    public init(
        retention: Duration = .seconds(600), remembered: [String: [String: NodeStatus.Rejection]] = [:],
        maxRemembered: Int = 100_000, log: (any RejectionLog)? = nil
    ) {
        self.retention = retention
        self.maxRemembered = maxRemembered
        self.log = log
        let count = remembered.values.reduce(0) { $0 + $1.count }
        state.withLock { state in
            state.remembered = remembered.filter { !$0.value.isEmpty }
            state.rememberedCount = count
        }
    }

    /// The rejections remembered for a node, by resource name.
    public func rejections(of nodeID: String) -> [String: NodeStatus.Rejection] {
        state.withLock { $0.remembered[nodeID] ?? [:] }
    }

    /// Records a new stream for a node and returns the stream's id.
    public func connect(nodeID: String, fleet: String, envoyVersion: String, flavour: String) -> Int {
        let stream = streamCounter.wrappingAdd(1, ordering: .relaxed).newValue
        var status = NodeStatus(
            nodeID: nodeID, fleet: fleet, envoyVersion: envoyVersion, protocolFlavour: flavour,
            connected: true, connectedSince: Date(), acked: [:], sent: [:], responses: [:], nacks: [:],
            lastNack: nil)
        let now = ContinuousClock.now
        state.withLock { state in
            // What this node refused before, on an earlier stream or under an earlier qpilot.
            for (name, rejection) in state.remembered[nodeID] ?? [:] {
                status.filters[name] = .init(acked: nil, rejected: rejection)
            }
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

    /// Applies what one request taught us, and returns how the remembered rejections changed
    /// (which the log has been given too).
    @discardableResult
    public func record(_ event: ProtocolEvent, nodeID: String, stream: Int) -> [RejectionChange] {
        let now = ContinuousClock.now
        var pushToAck: Duration?
        var changes: [RejectionChange] = []
        state.withLock { state in
            guard var entry = state.entries[stream] else { return }
            switch event {
            case .ack(let type, let version, let resources):
                // Only the first ACK of the version just sent measures push to ACK; a repeat
                // (a reconnect, a subscription change) would measure something else.
                if entry.status.sent[type] == version, entry.status.acked[type] != version, let sentAt = entry.sentAt[type] {
                    pushToAck = now - sentAt
                }
                entry.status.acked[type] = version
                if type.sendsOneAtATime {
                    for (name, version) in resources {
                        if let refused = state.remembered[nodeID]?[name], refused.version == version {
                            // Envoy skipped a config identical to the one it refused: it still runs
                            // what it ran before.
                            entry.status.filters[name] = .init(acked: refused.serving, rejected: refused)
                        } else {
                            entry.status.filters[name] = .init(acked: version, rejected: nil)
                            if state.forget(nodeID, name) { changes.append(.forget(node: nodeID, resource: name)) }
                        }
                    }
                    if entry.status.lastNack?.type == type, !entry.status.filters.values.contains(where: { $0.rejected != nil }) {
                        entry.status.lastNack = nil
                    }
                } else if entry.status.lastNack?.type == type {
                    entry.status.lastNack = nil
                }
            case .holds(let type, let resources):
                // Held from before, never re-sent: it shows what runs, and clears nothing.
                guard type.sendsOneAtATime else { break }
                for (name, version) in resources {
                    let refused = state.remembered[nodeID]?[name]
                    entry.status.filters[name] = .init(acked: refused?.version == version ? refused?.serving : version, rejected: refused)
                }
            case .nack(let type, let version, let message, let resources):
                entry.status.nacks[type, default: 0] += 1
                entry.status.lastNack = .init(
                    type: type, version: version, message: message, at: Date(),
                    resource: type.sendsOneAtATime ? resources.keys.sorted().first : nil)
                if type.sendsOneAtATime {
                    for (name, version) in resources {
                        let before = state.remembered[nodeID]?[name]
                        let serving = entry.status.filters[name]?.acked ?? before?.serving
                        let rejection = NodeStatus.Rejection(version: version, message: message, at: Date(), serving: serving)
                        entry.status.filters[name] = .init(acked: serving, rejected: rejection)
                        if before == nil { state.rememberedCount += 1 }
                        state.remembered[nodeID, default: [:]][name] = rejection
                        changes.append(.remember(node: nodeID, resource: name, rejection))
                    }
                    changes += state.evictOldest(beyond: maxRemembered)
                }
            case .fetching(let type, let name, let version, let attempt):
                guard type.sendsOneAtATime else { break }
                var filter = entry.status.filters[name] ?? .init(acked: nil, rejected: state.remembered[nodeID]?[name])
                let since = filter.fetching?.version == version ? filter.fetching!.since : Date()
                filter.fetching = .init(version: version, since: since, attempts: attempt)
                entry.status.filters[name] = filter
            case .holds, .staleNonce, .unknownType:
                break
            }
            state.entries[stream] = entry
            // Under the lock: the log sees changes in the order they happened.
            if !changes.isEmpty { log?.enqueue(changes) }
        }
        switch event {
        case .ack:
            if let pushToAck { Timer(label: "qpilot_xds_push_to_ack_seconds").recordNanoseconds(pushToAck.nanoseconds) }
        case .nack(let type, _, _, _):
            Counter(label: "qpilot_xds_nacks_total", dimensions: [("type", type.description)]).increment()
        case .fetching(let type, _, _, _):
            Counter(label: "qpilot_xds_fetch_retries_total", dimensions: [("type", type.description)]).increment()
        case .holds, .staleNonce, .unknownType:
            break
        }
        return changes
    }

    /// Forgets the remembered rejections of these resources of a node: it ACKed a version it
    /// had to build (a resource rendered anew for each send), so no older refusal holds.
    public func forgetRejections(of nodeID: String, names: [String]) {
        state.withLock { state in
            let changes = names.compactMap { state.forget(nodeID, $0) ? RejectionChange.forget(node: nodeID, resource: $0) : nil }
            if !changes.isEmpty { log?.enqueue(changes) }
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

/// A change to the rejections a `NodeRegistry` remembers, for the server to save.
public enum RejectionChange: Sendable, Equatable {
    case remember(node: String, resource: String, NodeStatus.Rejection)
    case forget(node: String, resource: String)
}

/// Where remembered rejections are saved, so that a restarted qpilot starts from them. `enqueue`
/// is called under the registry's lock, in the order the changes happened: it must only queue
/// them (and save them in that order), never block.
public protocol RejectionLog: Sendable {
    func enqueue(_ changes: [RejectionChange])
}

extension Duration {
    /// The whole duration in nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product + attoseconds / 1_000_000_000
    }
}
