import ArgumentParser
import Foundation
import NIOHTTP1
import QpilotAPI

/// `qctl node`: enrolment of Envoy nodes when xDS runs with TLS (join tokens, revocation).
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Enrolled nodes: join tokens, certificates, revocation.",
        discussion: """
            With xds.tls on, an Envoy gets config only with a client certificate from qpilot's CA that names \
            its node id and fleet. An operator makes a one-time join token; the node trades it for a \
            certificate with `qpilot bootstrap --enroll`. See docs/operations.md.
            """,
        subcommands: [Token.self, List.self, Revoke.self])

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One-time join tokens.", subcommands: [Create.self, List.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Make a join token for a fleet (and optionally one node id); it is shown once.",
                discussion: "Example: qctl node token create --fleet edge --node envoy-7 --ttl 30m")

            @Option(help: "The fleet the node joins.")
            var fleet: String

            @Option(help: "The only node id that may use the token; default: any.")
            var node: String?

            @Option(help: "How long the token may be used: seconds, or with s, m, h or d (default 1h, at most 7d).")
            var ttl: String = "1h"

            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var output: OutputOptions

            func run() async throws {
                guard let seconds = Self.seconds(ttl) else {
                    throw ValidationError("--ttl is a duration such as 3600, 90s, 30m, 1h or 2d; got '\(ttl)'")
                }
                let api = try connection.connect()
                let answer = try await api.send(.POST, "/v1/enrolment/tokens", body: TokenRequest(fleet: fleet, nodeID: node, ttlSeconds: seconds))
                let view = try api.decode(TokenView.self, from: answer)
                try output.print(view) {
                    """
                    token: \(view.token ?? "")
                    fleet \(view.fleet), node \(view.nodeID ?? "any"), usable once, until \(Table.date(view.expires))
                    qpilot's CA sha256: \(view.caSHA256)

                    On the node:
                      qpilot bootstrap --enroll \(view.enrolURL ?? "https://QPILOT:18002") --token \(view.token ?? "") --ca-sha256 \(view.caSHA256) --node-id \(view.nodeID ?? "NODE-ID") --out /etc/envoy/qpilot
                    """
                }
            }

            static func seconds(_ text: String) -> Int? {
                let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
                if let unit = text.last, let factor = units[unit], let value = Int(text.dropLast()), value > 0 {
                    let (seconds, overflow) = value.multipliedReportingOverflow(by: factor)
                    return overflow ? nil : seconds
                }
                if let value = Int(text), value > 0 { return value }
                return nil
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Join tokens not yet used or expired (never their secrets).")

            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let list = try await connection.connect().get("/v1/enrolment/tokens", as: TokenList.self)
                try output.print(list) {
                    guard !list.tokens.isEmpty else { return "no join tokens are waiting to be used" }
                    return Table.render(
                        ["ID", "FLEET", "NODE", "CREATED", "BY", "EXPIRES"],
                        list.tokens.map { [$0.id, $0.fleet, $0.nodeID ?? "any", Table.date($0.created), $0.createdBy, Table.date($0.expires)] })
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every enrolled node: its fleet, certificate dates and revocation.")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let list = try await connection.connect().get("/v1/enrolment/nodes", as: EnrolledNodeList.self)
            try output.print(list) {
                guard !list.nodes.isEmpty else { return "no node has enrolled" }
                return Table.render(
                    ["NODE", "FLEET", "ENROLLED", "RENEWED", "EXPIRES", "REVOKED"],
                    list.nodes.map {
                        [
                            $0.nodeID, $0.fleet, Table.date($0.certificate.enrolled), Table.date($0.certificate.renewed),
                            Table.date($0.certificate.expires), $0.certificate.revoked.map(Table.date) ?? "-",
                        ]
                    })
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cut a node off: its open xDS streams end and its certificates are refused from now on.",
            discussion: "It can join again only with a join token made for it by name (qctl node token create --node ID). Example: qctl node revoke envoy-7")

        @Argument(help: "The node id.")
        var node: String

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let api = try connection.connect()
            let answer = try await api.call(.POST, "/v1/nodes/\(Connection.segment(node))/revoke")
            let result = try api.decode(RevokeResult.self, from: answer)
            try output.print(result) { "revoked node \(result.nodeID); \(result.streamsEnded) open stream(s) ended" }
        }
    }
}
