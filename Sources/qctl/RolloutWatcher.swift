import Foundation
import QpilotAPI

/// Follows `GET /v1/rollouts/<revision>` until the revision is complete, failed, superseded or the
/// deadline passes: the engine behind every `--wait`.
struct RolloutWatcher {
    let connection: Connection
    let revision: Int
    let timeout: WaitTimeout
    var interval: Duration = .milliseconds(200)

    /// The complete rollout; any other ending throws a `QctlError` with exit code 2 or 3 that names the nodes.
    func wait() async throws -> RolloutView {
        let bar = ProgressBar(label: "rollout \(revision)")
        defer { bar.finish() }
        let deadline = ContinuousClock.now + timeout.duration
        var last: RolloutView?
        while true {
            if let view = try await poll() {
                last = view
                bar.draw(Self.progress(view))
                switch view.state {
                case .complete:
                    return view
                case .failed:
                    throw failed(view)
                case .superseded:
                    throw try await superseded(view)
                case .inProgress:
                    break
                }
            }
            guard ContinuousClock.now < deadline else { throw timedOut(last) }
            try await Task.sleep(for: interval)
        }
    }

    /// nil while qpilot has not published the revision yet: a write answers before the rollout exists.
    private func poll() async throws -> RolloutView? {
        do {
            return try await connection.get("/v1/rollouts/\(revision)", as: RolloutView.self)
        } catch let error as APIError where error.status == 404 {
            return nil
        }
    }

    /// `rollout 7: 3/5 acked, 0 nacked, 2 pending`, and `, 1 fetching` while nodes download a module.
    static func progress(_ view: RolloutView) -> String {
        let total = view.acked + view.nacked + view.pending + view.fetching
        return "rollout \(view.revision): \(view.acked)/\(total) acked, \(view.nacked) nacked, \(view.pending) pending"
            + (view.fetching > 0 ? ", \(view.fetching) fetching" : "")
    }

    private func failed(_ view: RolloutView) -> QctlError {
        let nacked = view.nodes.filter { $0.state == .nacked }
        return QctlError(
            "rollout \(revision) failed: \(nacked.count) node\(nacked.count == 1 ? "" : "s") NACKed it",
            details: nacked.map { node in
                "\(node.nodeID) (fleet \(node.fleet))\(node.middleware.map { ", middleware \($0)" } ?? ""): \(node.message ?? "no message")"
            },
            hint: "`qctl rollback <previous revision>` restores the chain before it; `qctl history` lists the revisions",
            exit: .rolloutFailed)
    }

    /// The rollout view does not say which revision replaced this one, so the history does.
    private func superseded(_ view: RolloutView) async throws -> QctlError {
        let history = try? await connection.get("/v1/revisions?limit=20", as: RevisionList.self)
        let later = history?.revisions.filter { $0.revision > revision }.min { $0.revision < $1.revision }
        let by = later.map { "revision \($0.revision) (\($0.action) by \($0.author))" } ?? "a later revision"
        return QctlError(
            "rollout \(revision) was superseded by \(by) before every node took it",
            details: [Self.progress(view)], hint: later.map { "follow it with `qctl rollout \($0.revision)`" },
            exit: .rolloutFailed)
    }

    private func timedOut(_ view: RolloutView?) -> QctlError {
        guard let view else {
            return QctlError(
                "rollout \(revision) did not appear within \(timeout): qpilot has not published the revision",
                exit: .timeout)
        }
        let pending = view.nodes.filter { $0.state == .pending || $0.state == .fetching }
        return QctlError(
            "rollout \(revision) timed out after \(timeout): \(pending.count) node\(pending.count == 1 ? "" : "s") pending",
            details: pending.map { node in
                "\(node.nodeID) (fleet \(node.fleet))"
                    + (node.state == .fetching ? ": fetching the module of \(node.middleware ?? "a middleware")" : "")
            },
            hint: "it may still finish: `qctl rollout \(revision)` shows where it is", exit: .timeout)
    }
}

/// What a write prints: the revision it made and, with `--wait`, how its rollout ended.
struct WriteReport: Encodable {
    var result: WriteResult
    var rollout: RolloutView?

    /// Prints the outcome of `answer` (a `WriteResult`) as a `what` line, then waits when asked.
    static func finish(
        _ answer: Connection.Answer, what: String, connection: Connection, options: WriteOptions
    ) async throws {
        let result = try connection.decode(WriteResult.self, from: answer)
        let headline = result.changed
            ? "\(what): revision \(result.revision)"
            : "\(what): nothing changed (head revision \(result.revision))"
        guard options.wait.wait else {
            try options.output.print(result) {
                headline + (result.changed ? "\nfollow it with `qctl rollout \(result.revision)` or pass --wait" : "")
            }
            return
        }
        if options.output.output == .table { print(headline) }
        let view = try await RolloutWatcher(connection: connection, revision: result.revision, timeout: options.wait.deadline)
            .wait()
        try options.output.print(WriteReport(result: result, rollout: view)) {
            view.nodes.isEmpty
                ? "rollout \(view.revision): complete (no connected node needed it)"
                : "rollout \(view.revision): complete, \(view.acked) node\(view.acked == 1 ? "" : "s") acked"
        }
    }
}
