extension ChainWriter {
    /// An actor runs another call whenever one awaits, so two writes could both read head N and
    /// race to commit N+1 (one would fail as stale though nobody asked for If-Match). Reloads and
    /// writes therefore take turns, in arrival order.
    func takingTurns<T, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }
}
