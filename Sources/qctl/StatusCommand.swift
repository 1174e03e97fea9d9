import ArgumentParser
import Foundation
import QpilotAPI

/// `qctl status`: every Envoy node and whether it holds the current config.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "One row per Envoy node: fleet, Envoy version, connected since, and whether it is in sync, pending or NACKed.",
        discussion: "Exits 0 when every connected node is in sync, 1 otherwise (or when qpilot cannot be reached).")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Only nodes of this fleet.")
    var fleet: String?

    @OptionGroup var output: OutputOptions

    func run() async throws {
        let path = "/v1/nodes" + (fleet.map { "?fleet=\(Connection.query($0))" } ?? "")
        let api = try connection.connect()
        let list = try await api.get(path, as: NodeList.self)
        // A summary of HTTPS interception under the table; status answers without it if it fails.
        let interception = output.output == .table ? try? await api.get("/v1/tls", as: InterceptionView.self) : nil
        try output.print(list) { Self.table(list.nodes) + (interception.flatMap(Self.interceptionSummary).map { "\n\n" + $0 } ?? "") }
        if list.nodes.contains(where: { $0.connected && $0.state != .inSync }) { throw ExitCode(1) }
    }

    static func table(_ nodes: [NodeView]) -> String {
        if nodes.isEmpty { return "no nodes have connected" }
        // Certificate columns only when xDS runs with TLS (nodes enrolled).
        let enrolled = nodes.contains { $0.certificate != nil }
        return Table.render(
            ["NODE", "FLEET", "ENVOY", "PROTOCOL", "CONNECTED SINCE", "STATE"] + (enrolled ? ["ENROLLED", "CERT EXPIRES"] : []) + ["MESSAGE"],
            nodes.map { node in
                [
                    node.nodeID, node.fleet, node.envoyVersion.isEmpty ? "-" : node.envoyVersion, node.protocolFlavour,
                    Table.date(node.connectedSince), node.connected ? node.state.rawValue : "disconnected",
                ]
                    + (enrolled
                        ? [
                            node.certificate.map { Table.date($0.enrolled) } ?? "-",
                            node.certificate.map { $0.revoked == nil ? Table.date($0.expires) : "revoked" } ?? "-",
                        ] : []) + [message(node)]
            })
    }

    /// One line on HTTPS interception, or nil when nothing is intercepted.
    static func interceptionSummary(_ view: InterceptionView) -> String? {
        let hosts = Set(view.fleets.flatMap(\.hosts))
        guard !hosts.isEmpty else { return nil }
        let next = view.certificates.map(\.expires).min().map { ", the next expires \(Table.date($0))" } ?? ""
        return "HTTPS interception: \(hosts.count) host(s) intercepted, \(view.certificates.count) certificate(s) minted\(next) (qctl tls status)"
    }

    /// Each refused middleware, with what the node runs instead (`m2 rejected (serving revision
    /// 4): …`); else the latest NACK of another type.
    static func message(_ node: NodeView) -> String {
        let refused = node.middleware.filter { $0.state == .nacked }
        guard !refused.isEmpty else { return node.lastNack.map { "\($0.type): \($0.message)" } ?? "" }
        return refused.map { middleware in
            let serving = middleware.rejected?.servingRevision.map { "serving revision \($0)" }
                ?? middleware.rejected?.serving.map { "serving version \($0)" } ?? "serving its previous config"
            return "\(middleware.name) rejected (\(serving)): \(middleware.rejected?.message ?? "")"
        }.joined(separator: "; ")
    }
}
