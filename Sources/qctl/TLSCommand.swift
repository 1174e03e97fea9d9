import ArgumentParser
import Foundation
import QpilotAPI

/// `qctl tls status`: what is intercepted, per fleet, and the certificates qpilot minted for it.
struct TLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls",
        abstract: "HTTPS interception: intercepted hosts and minted certificates.",
        subcommands: [Status.self])

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
