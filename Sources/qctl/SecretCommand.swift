import ArgumentParser
import Foundation
import NIOHTTP1
import QpilotAPI

/// `qctl secret`: values that middleware config refers to as `${secret:NAME}`.
struct SecretCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Set, list or delete secrets; middleware config refers to one as ${secret:NAME}.",
        discussion: "qpilot never returns a secret's value, and qctl never prints one.",
        subcommands: [Set.self, List.self, Delete.self])

    /// The secret's name argument.
    struct NameArgument: ParsableArguments {
        @Argument(help: "The secret's name, as written in ${secret:NAME}.")
        var name: String

        func validate() throws {
            // The name sits in a URL path and in `${secret:…}`; the server has the final word on the rest.
            guard !name.isEmpty, !name.contains(where: { $0.isWhitespace || "/{}$:".contains($0) }) else {
                throw ValidationError("a secret name is non-empty, with no spaces or any of / { } $ :")
            }
        }
    }

    /// `qctl secret set NAME (--from-file F | --from-literal V)`.
    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace a secret (PUT /v1/secrets/NAME).",
            discussion: """
                The value comes from exactly one of --from-file (one trailing newline is removed; - reads \
                standard input) or --from-literal (which your shell history keeps: prefer --from-file). \
                Middleware that refers to the secret gets the new value in a new Envoy config.

                Example: printf %s "$API_KEY" | qctl secret set partner-api-key --from-file -
                """)

        @OptionGroup var target: NameArgument

        @Option(help: ArgumentHelp("Read the value from a file; - reads standard input.", valueName: "file"))
        var fromFile: String?

        @Option(help: ArgumentHelp("The value itself.", valueName: "value"))
        var fromLiteral: String?

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            switch (fromFile, fromLiteral) {
            case (nil, nil): throw ValidationError("pass the value with --from-file FILE (- for stdin) or --from-literal VALUE")
            case (.some, .some): throw ValidationError("pass --from-file or --from-literal, not both")
            default: break
            }
        }

        /// The value; a file's one trailing newline is an editor's, not part of the secret.
        func value() throws -> String {
            guard let fromFile else { return fromLiteral ?? "" }
            var text: String
            do {
                text = try Input.read(fromFile)
            } catch let error as QctlError {
                throw error
            } catch {
                throw QctlError("cannot read --from-file \(fromFile): \(error.localizedDescription)")
            }
            if text.hasSuffix("\r\n") {
                text.removeLast(2)  // "\r\n" is one Character in Swift; removeLast(1) would take both anyway
            } else if text.hasSuffix("\n") {
                text.removeLast()
            }
            return text
        }

        func run() async throws {
            let value = try value()
            let api = try connection.connect()
            let answer = try await api.send(.PUT, "/v1/secrets/\(Connection.segment(target.name))", body: SecretWrite(value: value))
            let info = try api.decode(SecretInfo.self, from: answer)
            try output.print(info) { "secret \(info.name) set (\(value.utf8.count) bytes)" }
        }
    }

    /// `qctl secret list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the secrets' names (never their values).")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let list = try await connection.connect().get("/v1/secrets", as: SecretList.self)
            try output.print(list) { list.secrets.map(\.name).joined(separator: "\n") }
        }
    }

    /// `qctl secret delete NAME`.
    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a secret (DELETE /v1/secrets/NAME).",
            discussion: "qpilot refuses (422 missing_secret) while middleware still refers to it.")

        @OptionGroup var target: NameArgument
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            _ = try await connection.connect().call(.DELETE, "/v1/secrets/\(Connection.segment(target.name))")
            print("secret \(target.name) deleted")
        }
    }
}
