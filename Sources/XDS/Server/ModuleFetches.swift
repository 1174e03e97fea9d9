import Foundation
import Synchronization

/// What the module endpoint saw each ADS stream's Envoy download, so that a stream can tell a
/// NACK that means "not fetched yet" from one that means "this module fails".
///
/// Envoy 1.40 gives both the same message ("Unable to create Wasm plugin NAME") when a module is
/// delivered `remote` with `nack_on_code_cache_miss`. Each stream registers a random token and
/// puts it, with an attempt number, in the query of the module URLs it sends (`s=TOKEN-N`); the
/// module endpoint reports each request carrying a registered token. Requests with a token that
/// is not registered (a closed stream, a guess) are ignored, so what is kept is bounded by the
/// open streams and the modules each one names.
public final class ModuleFetches: Sendable {
    /// One download by one stream's Envoy.
    public enum Event: Sendable, Equatable {
        case started
        case completed
        /// The request ended without the whole module: a status other than 200, or the
        /// connection went away. Envoy then caches the failure for 10 s.
        case failed(String)
    }

    /// The latest event of one download, numbered so that a waiter can ask for a later one.
    public struct Record: Sendable, Equatable {
        public var event: Event
        public var at: ContinuousClock.Instant
        public var sequence: Int
    }

    private struct Key: Hashable {
        var token: String
        var content: String
    }

    private struct Waiter {
        var key: Key
        var after: Int
        var continuation: CheckedContinuation<Record?, Never>
    }

    private struct State {
        var tokens: Set<String> = []
        var records: [Key: Record] = [:]
        /// Downloads started and not ended, per stream and content, and per content.
        var running: [Key: Int] = [:]
        var runningByContent: [String: Int] = [:]

        mutating func setRunning(_ key: Key, _ count: Int) {
            let change = count - (running[key] ?? 0)
            running[key] = count == 0 ? nil : count
            let total = (runningByContent[key.content] ?? 0) + change
            runningByContent[key.content] = total <= 0 ? nil : total
        }
        var byToken: [String: Set<String>] = [:]
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
        var sequence = 0
    }

    /// The most contents one stream's records may name: a chain holds at most a few dozen
    /// modules, and older ones are forgotten first.
    static let maxContentsPerToken = 256

    private let state = Mutex(State())

    public init() {}

    /// Registers a new stream and returns its token: 16 random hex digits.
    public func open() -> String {
        var generator = SystemRandomNumberGenerator()
        let token = String(format: "%016llx", generator.next() as UInt64)
        state.withLock { _ = $0.tokens.insert(token) }
        return token
    }

    /// Forgets a stream's token and what its Envoy downloaded; its waiters return nil.
    public func close(_ token: String) {
        let woken = state.withLock { state -> [CheckedContinuation<Record?, Never>] in
            state.tokens.remove(token)
            for content in state.byToken.removeValue(forKey: token) ?? [] {
                state.records[Key(token: token, content: content)] = nil
                state.setRunning(Key(token: token, content: content), 0)
            }
            let ids = state.waiters.filter { $0.value.key.token == token }.map(\.key)
            return ids.compactMap { state.waiters.removeValue(forKey: $0)?.continuation }
        }
        for continuation in woken { continuation.resume(returning: nil) }
    }

    /// The token of a query value `TOKEN-N`, when the token is registered.
    public func token(inQuery value: String) -> String? {
        guard let token = value.split(separator: "-", maxSplits: 1).first.map(String.init) else { return nil }
        return state.withLock { $0.tokens.contains(token) } ? token : nil
    }

    /// Records what the module endpoint saw for the stream whose query value is `query` (the `s`
    /// parameter); a value without a registered token is ignored.
    public func record(query: String, content: String, _ event: Event) {
        guard let token = token(inQuery: query) else { return }
        record(token: token, content: content, event)
    }

    func record(token: String, content: String, _ event: Event) {
        let now = ContinuousClock.now
        let key = Key(token: token, content: content)
        let woken = state.withLock { state -> [(CheckedContinuation<Record?, Never>, Record)] in
            guard state.tokens.contains(token) else { return [] }
            // Envoy may give up on a request and retry: an older request that ends later must not
            // hide a newer one that runs or ended well.
            switch event {
            case .started:
                state.setRunning(key, (state.running[key] ?? 0) + 1)
            case .completed, .failed:
                let left = max(0, (state.running[key] ?? 0) - 1)
                state.setRunning(key, left)
                if case .failed = event, left > 0 || state.records[key]?.event == .completed { return [] }
            }
            state.sequence += 1
            let record = Record(event: event, at: now, sequence: state.sequence)
            if state.records[key] == nil {
                var contents = state.byToken[token, default: []]
                if contents.count >= Self.maxContentsPerToken, let oldest = contents.min(by: {
                    state.records[Key(token: token, content: $0)]?.sequence ?? 0 < state.records[Key(token: token, content: $1)]?.sequence ?? 0
                }) {
                    contents.remove(oldest)
                    state.records[Key(token: token, content: oldest)] = nil
                    state.setRunning(Key(token: token, content: oldest), 0)
                }
                contents.insert(content)
                state.byToken[token] = contents
            }
            state.records[key] = record
            let ids = state.waiters.filter { $0.value.key == key && $0.value.after < record.sequence }.map(\.key)
            return ids.compactMap { state.waiters.removeValue(forKey: $0).map { ($0.continuation, record) } }
        }
        for (continuation, record) in woken { continuation.resume(returning: record) }
    }

    /// Downloads of `content` running now, by every stream's Envoy.
    public func downloading(_ content: String) -> Int {
        state.withLock { $0.runningByContent[content] ?? 0 }
    }

    /// The latest record of a stream's downloads of `content`.
    public func latest(token: String, content: String) -> Record? {
        state.withLock { $0.records[Key(token: token, content: content)] }
    }

    /// Waits for a record of `content` by this stream later than `sequence`, at most `timeout`;
    /// nil on timeout, or when the stream closed.
    public func next(token: String, content: String, after sequence: Int, timeout: Duration) async -> Record? {
        await withTaskGroup(of: Record?.self) { group in
            group.addTask { await self.wait(Key(token: token, content: content), after: sequence) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    private func wait(_ key: Key, after sequence: Int) async -> Record? {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Record?, Never>) in
                let ready = state.withLock { state -> Record?? in
                    if let record = state.records[key], record.sequence > sequence { return .some(record) }
                    guard state.tokens.contains(key.token), !Task.isCancelled else { return .some(nil) }
                    state.waiters[id] = Waiter(key: key, after: sequence, continuation: continuation)
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            expire(id)
        }
    }

    private func expire(_ id: Int) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(returning: nil)
    }

    /// Open stream tokens and records held, for tests.
    var counts: (tokens: Int, records: Int, waiters: Int) {
        state.withLock { ($0.tokens.count, $0.records.count, $0.waiters.count) }
    }
}
