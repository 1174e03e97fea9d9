import Synchronization

/// The narrow contract between the xDS server and whatever produces config.
///
/// As in go-control-plane's `ConfigWatcher`, the server only asks for a watch; it never learns how
/// a snapshot is built, and the cache never touches a gRPC stream.
public protocol ConfigWatcher: Sendable {
    /// Snapshots for one fleet: the current one first, when there is one, then each change.
    /// Only the newest matters, so a slow consumer skips intermediate snapshots.
    func watch(fleet: String) -> AsyncStream<Snapshot>

    /// The snapshot a node of `fleet` receives now.
    func snapshot(for fleet: String) -> Snapshot?
}

/// Makes resources of on-demand types (`ResourceType.isOnDemand`) when a node asks for them.
public protocol OnDemandResources: Sendable {
    /// A node of `fleet` subscribes to `names` of `type` that its snapshot lacks. Adds those it
    /// may have to the cache, before the request is answered, and returns whether it added any.
    func requested(_ names: Set<String>, of type: ResourceType, fleet: String) -> Bool
}

/// Snapshots keyed by fleet, with a fallback for fleets no middleware names.
///
/// Every node in a fleet shares one snapshot, so its resources are encoded once for all of them.
public final class SnapshotCache: ConfigWatcher {
    private struct Watcher {
        let fleet: String
        let continuation: AsyncStream<Snapshot>.Continuation
    }

    private struct State {
        var byFleet: [String: Snapshot] = [:]
        var fallback: Snapshot?
        var watchers: [Int: Watcher] = [:]
        var nextWatcherID = 0
        /// Resources made on request, by the fleet of the nodes that asked.
        var onDemand: [String: [ResourceType: [String: Resource]]] = [:]
        /// The base snapshot plus `onDemand`, for each fleet that has any.
        var effective: [String: Snapshot] = [:]

        func base(for fleet: String) -> Snapshot? { byFleet[fleet] ?? fallback }
        func snapshot(for fleet: String) -> Snapshot? { effective[fleet] ?? base(for: fleet) }

        mutating func rebuild(_ fleet: String) {
            let extra = (onDemand[fleet] ?? [:]).filter { !$0.value.isEmpty }
            effective[fleet] = extra.isEmpty ? nil : base(for: fleet)?.adding(extra)
        }
    }

    private let state = Mutex(State())

    public init() {}

    /// A fleet's snapshots that passed the consistency check, ready to publish.
    public struct Checked: Sendable {
        public let byFleet: [String: Snapshot]
        public let fallback: Snapshot
    }

    /// Checks every snapshot for consistency; on any problem the error lists every problem found.
    /// Callers that must know before they commit to a change check first and publish the result.
    ///
    /// - Parameters:
    ///   - byFleet: snapshots for fleets that have their own config.
    ///   - fallback: the snapshot for every other fleet.
    public static func check(byFleet: [String: Snapshot], fallback: Snapshot) throws(SnapshotError) -> Checked {
        var problems: [String] = []
        for (fleet, snapshot) in byFleet.sorted(by: { $0.key < $1.key }) {
            problems += snapshot.consistencyProblems().map { "fleet \(fleet): \($0)" }
        }
        problems += fallback.consistencyProblems()
        guard problems.isEmpty else { throw SnapshotError.inconsistent(problems) }
        return Checked(byFleet: byFleet, fallback: fallback)
    }

    /// Publishes a new set of snapshots after checking each for consistency. On any problem nothing
    /// changes and the error lists every problem found.
    public func publish(byFleet: [String: Snapshot], fallback: Snapshot) throws {
        publish(try Self.check(byFleet: byFleet, fallback: fallback))
    }

    /// Publishes snapshots already checked.
    public func publish(_ checked: Checked) {
        let byFleet = checked.byFleet
        let fallback = checked.fallback
        state.withLock { state in
            let before = state
            state.byFleet = byFleet
            state.fallback = fallback
            for fleet in state.onDemand.keys { state.rebuild(fleet) }
            Self.notify(&state, before: before)
        }
    }

    private static func notify(_ state: inout State, before: State, only fleet: String? = nil) {
        for watcher in state.watchers.values where fleet == nil || watcher.fleet == fleet {
            guard let next = state.snapshot(for: watcher.fleet) else { continue }
            if before.snapshot(for: watcher.fleet)?.version != next.version {
                watcher.continuation.yield(next)
            }
        }
    }

    /// Adds (or replaces) resources of an on-demand type for the nodes of `fleet`, and sends the
    /// fleet's streams the result.
    public func addOnDemand(_ resources: [Resource], of type: ResourceType, fleet: String) {
        precondition(type.isOnDemand, "\(type) is made in advance, not on demand")
        state.withLock { state in
            let before = state
            for resource in resources { state.onDemand[fleet, default: [:]][type, default: [:]][resource.name] = resource }
            state.rebuild(fleet)
            Self.notify(&state, before: before, only: fleet)
        }
    }

    /// Removes on-demand resources of `fleet` by name.
    public func removeOnDemand(_ names: Set<String>, of type: ResourceType, fleet: String) {
        state.withLock { state in
            let before = state
            for name in names { state.onDemand[fleet]?[type]?[name] = nil }
            if state.onDemand[fleet]?.values.allSatisfy(\.isEmpty) == true { state.onDemand[fleet] = nil }
            state.rebuild(fleet)
            Self.notify(&state, before: before, only: fleet)
        }
    }

    /// The on-demand resources of `type`, by fleet, then by name.
    public func onDemand(of type: ResourceType) -> [String: [String: Resource]] {
        state.withLock { state in state.onDemand.compactMapValues { $0[type] }.filter { !$0.value.isEmpty } }
    }

    /// The snapshot a node of `fleet` receives now: its fleet's config, and what its fleet's nodes
    /// asked for.
    public func snapshot(for fleet: String) -> Snapshot? {
        state.withLock { $0.snapshot(for: fleet) }
    }

    public func watch(fleet: String) -> AsyncStream<Snapshot> {
        let (stream, continuation) = AsyncStream.makeStream(of: Snapshot.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state -> Int in
            let id = state.nextWatcherID
            state.nextWatcherID += 1
            state.watchers[id] = Watcher(fleet: fleet, continuation: continuation)
            if let current = state.snapshot(for: fleet) { continuation.yield(current) }
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.watchers.removeValue(forKey: id) }
        }
        return stream
    }

    /// The fleets' own config snapshots (without what nodes asked for), and the one for every
    /// other fleet.
    public var published: (byFleet: [String: Snapshot], fallback: Snapshot?) {
        state.withLock { ($0.byFleet, $0.fallback) }
    }

    /// How many streams are watching, for metrics and tests.
    public var watcherCount: Int { state.withLock { $0.watchers.count } }
}
