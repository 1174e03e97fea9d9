extension ChainWriter {
    /// An actor runs another call whenever one awaits, so two writes could both read head N and
    /// race to commit N+1 (one would fail as stale though nobody asked for If-Match). Reloads and
    /// writes therefore take turns, in arrival order.
    func takingTurns<T, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        _ = await enterTurn(waitingAtMost: nil)
        defer { leaveTurn() }
        return try await body()
    }

    /// How long an admin write waits for its turn before it is refused. qctl gives up on a request
    /// after 30 s; a write that starts after its client has gone would commit a change nobody is
    /// told about, so it is refused before that, and changes nothing.
    static let writeTurnLimit = Duration.seconds(20)

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
