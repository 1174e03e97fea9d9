import Synchronization

/// A value that many readers share for a short while: built by the first reader that finds it
/// stale, while the others wait for that build instead of starting their own. Under load (10,000
/// nodes, operators and `push --wait` polling status during fan-outs) a status view then costs
/// one build per `maxAge`, however many ask for it.
actor SharedView<Value: Sendable> {
    let maxAge: Duration
    private var latest: (value: Value, at: ContinuousClock.Instant)?
    private var building: Task<Value, Never>?

    init(maxAge: Duration) { self.maxAge = maxAge }

    func value(_ build: @escaping @Sendable () async -> Value) async -> Value {
        if let latest, ContinuousClock.now - latest.at < maxAge { return latest.value }
        if let building { return await building.value }
        let started = ContinuousClock.now
        let task = Task { await build() }
        building = task
        let value = await task.value
        latest = (value, started)
        building = nil
        return value
    }
}

/// One `SharedView` per key, for the latest few keys (a reader of an older one starts afresh).
final class SharedViews<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    let maxAge: Duration
    let limit: Int
    private let views = Mutex<[Key: SharedView<Value>]>([:])

    init(maxAge: Duration, limit: Int) {
        self.maxAge = maxAge
        self.limit = limit
    }

    func value(_ key: Key, _ build: @escaping @Sendable () async -> Value) async -> Value {
        let shared = views.withLock { views in
            if let view = views[key] { return view }
            if views.count >= limit { views.removeAll() }
            let view = SharedView<Value>(maxAge: maxAge)
            views[key] = view
            return view
        }
        return await shared.value(build)
    }
}
