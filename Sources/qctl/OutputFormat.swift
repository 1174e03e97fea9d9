import ArgumentParser
import Foundation
import QpilotAPI
import Yams

/// How a command prints its result.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, yaml

    /// The value as JSON (the admin API's own encoding) or YAML; nil for `table`, which each command draws itself.
    func encode(_ value: some Encodable) throws -> String? {
        switch self {
        case .table:
            return nil
        case .json:
            return String(decoding: try APIJSON.encoder().encode(value), as: UTF8.self)
        case .yaml:
            let encoder = YAMLEncoder()
            encoder.options.sortKeys = true
            // YAMLEncoder ends with a newline; print adds one more.
            var text = try encoder.encode(value)
            while text.hasSuffix("\n") { text.removeLast() }
            return text
        }
    }
}

/// `--output`, shared by every command that prints data.
struct OutputOptions: ParsableArguments {
    @Option(name: [.customShort("o"), .long], help: "table, json or yaml.")
    var output: OutputFormat = .table

    /// Prints `value` as JSON or YAML, or `table()` for the table format.
    func print(_ value: some Encodable, table: () -> String) throws {
        if let text = try output.encode(value) {
            Swift.print(text)
        } else {
            let text = table()
            if !text.isEmpty { Swift.print(text) }
        }
    }
}

/// Aligned columns, the way kubectl and docker print lists.
enum Table {
    static func render(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    /// `key  value` rows, for one object.
    static func fields(_ rows: [(String, String)]) -> String {
        let width = rows.map(\.0.count).max() ?? 0
        return rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
            .joined(separator: "\n")
    }

    static func date(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
