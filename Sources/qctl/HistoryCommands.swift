import ArgumentParser
import Foundation
import NIOHTTP1
import QpilotAPI

/// `qctl history`: the revisions, newest first.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List the chain's revisions, newest first: who wrote each, when, and what it did.")

    @Option(help: "How many revisions to show.")
    var limit: Int = 20

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard (1...RevisionList.maxLimit).contains(limit) else {
            throw ValidationError("--limit must be between 1 and \(RevisionList.maxLimit)")
        }
    }

    func run() async throws {
        let list = try await connection.connect().get("/v1/revisions?limit=\(limit)", as: RevisionList.self)
        try output.print(list) {
            if list.revisions.isEmpty { return "no revisions yet" }
            return Table.render(
                ["REV", "WHEN", "WHO", "ACTION", "MIDDLEWARE"],
                list.revisions.map {
                    ["\($0.revision)", Table.date($0.createdAt), $0.author, $0.action, $0.middleware.joined(separator: ",")]
                })
        }
    }
}

/// A revision number argument, checked before any request.
struct RevisionArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("A revision number, as `qctl history` lists them.", valueName: "rev"))
    var revision: Int

    func validate() throws {
        guard revision > 0 else { throw ValidationError("a revision is a number greater than 0") }
    }
}

/// `qctl rollback REV`.
struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Make REV's chain the head again, as a new revision (POST /v1/revisions/REV/rollback).",
        discussion: "Secrets are not part of a revision: a rollback uses their current values.")

    @OptionGroup var target: RevisionArgument
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var write: WriteOptions

    func run() async throws {
        let api = try connection.connect()
        let answer = try await api.call(.POST, "/v1/revisions/\(target.revision)/rollback", ifMatch: write.ifMatch)
        try await WriteReport.finish(
            answer, what: "chain of revision \(target.revision) restored", connection: api, options: write)
    }
}

/// `qctl rollout REV`: which nodes hold a revision.
struct RolloutCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "Show which nodes of the changed fleets ACKed, NACKed or still wait for a revision.",
        discussion: """
            The state is complete, failed (a node NACKed), in-progress or superseded (a later revision \
            replaced it first). With --wait, waits as a write's --wait does, with the same exit codes.
            """)

    @OptionGroup var target: RevisionArgument
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var wait: WaitOptions
    @OptionGroup var output: OutputOptions

    func run() async throws {
        let api = try connection.connect()
        let view = wait.wait
            ? try await RolloutWatcher(connection: api, revision: target.revision, timeout: wait.deadline).wait()
            : try await api.get("/v1/rollouts/\(target.revision)", as: RolloutView.self)
        try output.print(view) { Self.table(view) }
    }

    static func table(_ view: RolloutView) -> String {
        var text = Table.fields([
            ("revision", "\(view.revision)"),
            ("state", view.state.rawValue),
            ("fleets", view.fleets.map(\.description).joined(separator: ", ")),
            ("published", Table.date(view.publishedAt)),
            ("nodes", "\(view.acked) acked, \(view.nacked) nacked, \(view.pending) pending" + (view.fetching > 0 ? ", \(view.fetching) fetching" : "")),
        ])
        if !view.nodes.isEmpty {
            text += "\n\n" + Table.render(
                ["NODE", "FLEET", "STATE", "MESSAGE"],
                view.nodes.map { node in
                    [node.nodeID, node.fleet, node.state.rawValue, (node.middleware.map { "\($0): " } ?? "") + (node.message ?? "")]
                })
        }
        return text
    }
}
