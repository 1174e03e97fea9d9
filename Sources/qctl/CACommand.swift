import ArgumentParser
import Foundation
import NIOHTTP1

/// `qctl ca export`: qpilot's CA certificate, for clients of intercepted HTTPS to trust.
struct CACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "qpilot's certificate authority.",
        subcommands: [Export.self])

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print qpilot's CA certificate, PEM (GET /v1/ca; a read token is enough).",
            discussion: """
                Clients trust it to accept the certificates Envoy presents for intercepted HTTPS names; \
                docs/https-egress.md shows how, per runtime. With qpilot stopped, `qpilot ca export` prints it.

                Example: qctl ca export > qpilot-ca.pem && curl --cacert qpilot-ca.pem …
                """)

        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let answer = try await connection.connect().call(.GET, "/v1/ca")
            FileHandle.standardOutput.write(answer.body)
        }
    }
}
