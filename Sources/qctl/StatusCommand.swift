import ArgumentParser
import Foundation
import QpilotAPI

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "One row per Envoy node: fleet, Envoy version, connected since, and whether it is in sync, pending or NACKed.",
        discussion: "Exits 0 when every connected node is in sync, 1 otherwise (or when qpilot cannot be reached).")

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Only nodes of this fleet.")
    var fleet: String?

    @Option(help: "table or json.")
    var output: OutputFormat = .table

    func run() async throws {
        let path = "/v1/nodes" + (fleet.map { "?fleet=\($0.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? $0)" } ?? "")
        let list: NodeList
        do {
            list = try await connection.get(path, as: NodeList.self)
        } catch let error as QctlError {
            FileHandle.standardError.write(Data("qctl: \(error)\n".utf8))
            throw ExitCode(1)
        }
        switch output {
        case .json:
            print(String(decoding: try APIJSON.encoder().encode(list), as: UTF8.self))
        case .table:
            print(Self.table(list.nodes))
        }
        if list.nodes.contains(where: { $0.connected && $0.state != "in-sync" }) { throw ExitCode(1) }
    }

    static func table(_ nodes: [NodeView]) -> String {
        let formatter = ISO8601DateFormatter()
        var rows = [["NODE", "FLEET", "ENVOY", "PROTOCOL", "CONNECTED SINCE", "STATE", "MESSAGE"]]
        for node in nodes {
            let state = node.connected ? node.state : "disconnected"
            let message = node.lastNack.map { "\($0.type): \($0.message)" } ?? ""
            rows.append([
                node.nodeID, node.fleet, node.envoyVersion.isEmpty ? "-" : node.envoyVersion, node.protocolFlavour,
                formatter.string(from: node.connectedSince), state, message,
            ])
        }
        if nodes.isEmpty { return "no nodes have connected" }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
