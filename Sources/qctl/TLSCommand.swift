import ArgumentParser
import Foundation
import NIOHTTP1
import QpilotAPI

/// `qctl tls status`: what is intercepted, per fleet, and the certificates qpilot minted for it.
struct TLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls",
        abstract: "HTTPS interception: intercepted hosts and minted certificates.",
        subcommands: [Status.self, Intercept.self])

    /// `qctl tls intercept add|remove|list`: the intercepted hosts kept in the store.
    struct Intercept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The HTTPS hosts whose requests the middleware see (kept in qpilot's store).",
            discussion: """
                Used whenever qpilot.yaml has no tls.intercept; with one, the file is the list and these \
                commands are refused (409). A change applies at once, without restarting Envoy.
                """,
            subcommands: [Add.self, Remove.self, List.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Intercept a host (a name, or '*.domain' for every name under it), for every fleet or some.",
                discussion: "Example: qctl tls intercept add api.stripe.com && qctl tls intercept add '*.openai.com' --fleet payments")

            @Argument(help: "A host name, or '*.' and a domain.")
            var host: String

            @Option(name: .customLong("fleet"), help: "Only for the nodes of this fleet (repeat for more); default: every fleet.")
            var fleets: [String] = []

            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let api = try connection.connect()
                let answer = try await api.send(
                    .PUT, "/v1/tls/intercept/\(Connection.segment(host))", body: InterceptWrite(fleets: fleets.isEmpty ? nil : fleets))
                let list = try api.decode(InterceptList.self, from: answer)
                try output.print(list) { "intercepting \(host.lowercased())\(fleets.isEmpty ? "" : " for " + fleets.joined(separator: ", "))" }
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Stop intercepting a host: its CONNECTs become tunnels again.")

            @Argument(help: "The host, as `list` shows it.")
            var host: String

            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let api = try connection.connect()
                let answer = try await api.call(.DELETE, "/v1/tls/intercept/\(Connection.segment(host))")
                let list = try api.decode(InterceptList.self, from: answer)
                try output.print(list) { "no longer intercepting \(host.lowercased())" }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "The intercepted hosts, and whether qpilot.yaml or the store holds them.")

            @OptionGroup var connection: ConnectionOptions
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let list = try await connection.connect().get("/v1/tls/intercept", as: InterceptList.self)
                try output.print(list) {
                    let source = list.mode == .file ? "from qpilot.yaml (tls.intercept)" : "from the store"
                    guard !list.entries.isEmpty else { return "no hosts are intercepted (\(source))" }
                    return Table.render(
                        ["HOST", "FLEETS", "UPDATED", "BY"],
                        list.entries.map {
                            [$0.host, $0.fleets?.joined(separator: ", ") ?? "*", list.mode == .file ? "-" : Table.date($0.updatedAt), $0.updatedBy]
                        }) + "\n\(list.entries.count) host(s) \(source)"
                }
            }
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The intercepted hosts of each fleet, and each certificate qpilot minted with its expiry (GET /v1/tls).",
            discussion: """
                Hosts come from tls.intercept in qpilot.yaml. A certificate is minted when an Envoy first \
                handshakes for a name, kept in qpilot's memory only, and re-issued after two thirds of its \
                life. Envoy counts failed handshakes itself: see docs/https-egress.md for its stats.
                """)

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let view = try await connection.connect().get("/v1/tls", as: InterceptionView.self)
            try output.print(view) { Self.table(view) }
        }

        static func table(_ view: InterceptionView) -> String {
            let hosts = Table.render(
                ["FLEET", "INTERCEPTED HOSTS"],
                view.fleets.map { [$0.fleet, $0.hosts.isEmpty ? "-" : $0.hosts.joined(separator: ", ")] })
            let certificates =
                view.certificates.isEmpty
                ? "no certificates minted yet (one is minted at the first handshake for a name)"
                : Table.render(
                    ["CERTIFICATE", "FLEETS", "ISSUED", "EXPIRES"],
                    view.certificates.map { [$0.name, $0.fleets.joined(separator: ", "), Table.date($0.issued), Table.date($0.expires)] })
            let originated =
                view.originated.isEmpty
                ? ""
                : "\n\n" + Table.render(["FLEET", "PLAIN HTTP SENT AS HTTPS"], view.originated.map { [$0.fleet, $0.hosts.joined(separator: ", ")] })
            let roots = view.originRoots == "system" ? "the system bundle" : "tls.upstreamCA and the system bundle"
            return """
                \(hosts)\(originated)

                \(certificates)

                \(view.mintedSinceStart) minted since start; each valid \(view.leafLifetimeSeconds) s; origins verified against \(roots)
                """
        }
    }
}
