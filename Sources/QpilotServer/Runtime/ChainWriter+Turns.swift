extension ChainWriter {
    /// An actor runs another call whenever one awaits, so two writes could both read head N and
    /// race to commit N+1 (one would fail as stale though nobody asked for If-Match). Reloads and
    /// writes therefore take turns, in arrival order.
    func takingTurns<T, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        _ = await enterTurn(waitingAtMost: nil)
        defer { leaveTurn() }
        return try await body()
    }

    /// How long an admin write may take, from its arrival until its turn: fetching its modules,
    /// then waiting behind other changes. A write past it is refused and changes nothing, so a
    /// write never commits after its client stopped waiting (qctl waits 120 s for a write).
    static let writeBudget = Duration.seconds(110)

    /// How long an admin write waits for its turn before it is refused (within `writeBudget`).
    static let writeTurnLimit = Duration.seconds(60)

    /// `takingTurns` for an admin write: refused with `busy` when the turn does not come within
    /// `limit`.
    func takingWriteTurn<T>(
        waitingAtMost limit: Duration = writeTurnLimit, _ body: () async throws(QpilotError) -> T
    ) async throws(QpilotError) -> T {
        guard await enterTurn(waitingAtMost: limit) else {
            throw QpilotError(
                .busy,
                "qpilot is busy with other changes and this one did not start within \(limit); nothing changed, try again")
        }
        defer { leaveTurn() }
        return try await body()
    }

    /// Waits for the turn; false when `limit` passed first (the caller then does not have it).
    private func enterTurn(waitingAtMost limit: Duration?) async -> Bool {
        guard busy else {
            busy = true
            return true
        }
        lastTicket += 1
        let ticket = lastTicket
        if let limit {
            Task {
                try? await Task.sleep(for: limit)
                await self.giveUp(ticket)
            }
        }
        return await withCheckedContinuation { waiting.append((ticket, $0)) }
    }

    private func giveUp(_ ticket: Int) {
        guard let index = waiting.firstIndex(where: { $0.ticket == ticket }) else { return }
        waiting.remove(at: index).continuation.resume(returning: false)
    }

    private func leaveTurn() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().continuation.resume(returning: true)
        }
    }
}
