import Foundation
import Modules

/// The result of fetching and validating one module, in each output format.
struct ModuleCheck: Encodable {
    var source: String
    var valid: Bool
    var report: ModuleReport?
    var problems: [String]
    var resolvedDigest: String?

    static func run(_ options: SourceOptions) async -> ModuleCheck {
        var check = ModuleCheck(source: options.source, valid: false, report: nil, problems: [], resolvedDigest: nil)
        do {
            let fetched = try await options.fetch()
            check.resolvedDigest = fetched.resolvedDigest
            do {
                check.report = try ModuleValidator.validate(fetched.module)
                check.valid = true
            } catch {
                check.problems = error.problems.map(\.description)
            }
        } catch {
            check.problems = [error.message]
        }
        return check
    }

    /// One line when valid; every problem when not.
    var summary: String {
        guard valid, let report else {
            return (["\(source): invalid"] + problems.map { "  - \($0)" }).joined(separator: "\n")
        }
        let capabilities = report.capabilities.map(\.rawValue).joined(separator: ", ")
        return "\(source): valid (Proxy-Wasm ABI \(report.abiVersion), \(report.size) bytes, sha256 \(report.sha256))"
            + (capabilities.isEmpty ? "" : "\n  uses: \(capabilities)")
    }

    /// The whole report as aligned rows.
    var details: String {
        guard valid, let report else { return summary }
        var rows: [(String, String)] = [
            ("source", source),
            ("sha256", report.sha256),
            ("size", "\(report.size) bytes"),
            ("abi", report.abiVersion.description),
            ("allocator", report.allocator),
            ("functions", "\(report.functionCount)"),
            ("capabilities", report.capabilities.map(\.rawValue).joined(separator: ", ")),
        ]
        if let digest = resolvedDigest { rows.insert(("digest", digest), at: 1) }
        let width = rows.map(\.0.count).max() ?? 0
        var lines = rows.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
        lines.append("imports (\(report.imports.count)):")
        lines += report.imports.map { "  \($0)" }
        lines.append("exports (\(report.exports.count)):")
        lines += report.exports.map { "  \($0)" }
        if !report.warnings.isEmpty {
            lines.append("warnings:")
            lines += report.warnings.map { "  \($0)" }
        }
        return lines.joined(separator: "\n")
    }
}
