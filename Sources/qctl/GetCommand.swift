import ArgumentParser
import Foundation
import QpilotAPI

/// `qctl get [NAME]`: the chain at the head revision, or one middleware.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show the middleware chain at the head revision, or one middleware.",
        discussion: """
            The table starts with the head revision; pass it to a write as --if-match to refuse the write \
            if someone changed the chain meanwhile. `--output yaml` prints a file that `qctl apply -f` takes back.
            """)

    @Argument(help: "One middleware's name. Default: the whole chain.")
    var name: String?

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let name { try MiddlewareName.check(name) }
    }

    func run() async throws {
        let api = try connection.connect()
        if let name {
            let spec = try await api.get("/v1/middleware/\(Connection.segment(name))", as: MiddlewareSpec.self)
            try output.print(spec) { Self.details(spec) }
        } else {
            let list = try await api.get("/v1/middleware", as: MiddlewareList.self)
            try output.print(list) { Self.table(list) }
        }
    }

    static func table(_ list: MiddlewareList) -> String {
        let heading = "revision \(list.revision), \(list.mode) mode"
        if list.middleware.isEmpty { return heading + "\nno middleware" }
        return heading + "\n"
            + Table.render(
                ["NAME", "SOURCE", "SHA256", "FLEETS", "PHASE/PRIORITY", "ENABLED"],
                list.middleware.map { spec in
                    [
                        spec.name, spec.source, digest(spec).map { String($0.prefix(12)) } ?? "-",
                        spec.fleets.map { $0.joined(separator: ",") } ?? "*",
                        "\(spec.phase?.rawValue ?? "-")/\(spec.priority ?? 0)", spec.isEnabled ? "yes" : "no",
                    ]
                })
    }

    /// The digest qpilot validated, else the pin; without a `sha256:` prefix so that 12 characters say something.
    static func digest(_ spec: MiddlewareSpec) -> String? {
        guard let value = spec.resolvedSHA256 ?? spec.sha256 else { return nil }
        return MiddlewareRules.normalizedSHA256(value) ?? value
    }

    static func details(_ spec: MiddlewareSpec) -> String {
        Table.fields([
            ("name", spec.name),
            ("source", spec.source),
            ("sha256", spec.sha256 ?? "-"),
            ("resolved sha256", spec.resolvedSHA256 ?? "-"),
            ("pull policy", (spec.pullPolicy ?? .ifNotPresent).rawValue),
            ("failure policy", (spec.failurePolicy ?? .closed).rawValue),
            ("phase", spec.phase?.rawValue ?? "-"),
            ("priority", "\(spec.priority ?? 0)"),
            ("fleets", spec.fleets.map { $0.joined(separator: ", ") } ?? "* (every fleet)"),
            ("delivery", spec.delivery?.rawValue ?? "server default"),
            ("enabled", spec.isEnabled ? "yes" : "no"),
            ("config", spec.config.map(\.moduleConfiguration) ?? ""),
        ])
    }
}
