import ArgumentParser
import Foundation
import NIOHTTP1
import QpilotAPI

/// `qctl apply -f FILE`: the whole chain as one revision.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Replace the whole middleware chain with a file's, as one revision (POST /v1/apply).",
        discussion: """
            FILE is YAML or JSON with a top-level `middleware:` list; each entry has the fields of \
            `qctl get NAME --output yaml` (name and source are required). Middleware not in the file is \
            removed. Unknown fields are refused, so a misspelt one is not lost. Paths in `source` are read \
            by the qpilot server.

            Example: qctl get --output yaml > chain.yaml; edit it; qctl apply -f chain.yaml --wait
            """)

    @Option(name: .customShort("f"), help: ArgumentHelp("The chain, YAML or JSON; - reads standard input.", valueName: "file"))
    var file: String

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var write: WriteOptions

    /// The file as the API's `ApplyDocument`; `qctl get --output yaml|json` output (a `MiddlewareList`) works too.
    static func document(_ text: String, origin: String) throws -> ApplyDocument {
        let data = try YAMLJSON.data(text, origin: origin)
        // `get` prints mode and revision next to the list; accept that output as is, so that get, edit, apply works.
        var json = data
        if var object = try? JSONDecoder().decode([String: JSONValue].self, from: data) {
            object["mode"] = nil
            object["revision"] = nil
            json = try JSONEncoder().encode(object)
        }
        do {
            return try APIJSON.decoder().decode(ApplyDocument.self, from: json)
        } catch {
            throw QctlError("\(origin): \(DecodingProblem.describe(error))")
        }
    }

    func run() async throws {
        let text: String
        do {
            text = try Input.read(file)
        } catch let error as QctlError {
            throw error
        } catch {
            throw QctlError("cannot read \(file): \(error.localizedDescription)")
        }
        let origin = file == "-" ? "standard input" : file
        let document = try Self.document(text, origin: origin)
        let api = try connection.connect()
        let answer = try await api.send(.POST, "/v1/apply", body: document, ifMatch: write.ifMatch)
        let count = document.middleware.count
        try await WriteReport.finish(
            answer, what: "applied \(count) middleware", connection: api, options: write)
    }
}
