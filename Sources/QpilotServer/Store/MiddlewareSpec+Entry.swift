import Foundation
import AdminServer
import QpilotAPI
import Translator

extension MiddlewareSpec {
    /// The checked entry the reconciler builds config from, with the same rules and defaults as
    /// a `middleware:` entry in qpilot.yaml. Errors name the field, as `invalid` (400).
    func entry(at index: Int) throws(AdminError) -> QpilotConfig.MiddlewareEntry {
        func invalid(_ field: String, _ message: String) -> AdminError {
            AdminError(400, "invalid", "middleware[\(index)] '\(name)': \(field): \(message)", details: ["field": field])
        }
        func oneOf<T: RawRepresentable & CaseIterable>(_ value: String?, _ field: String, _: T.Type) throws(AdminError) -> T?
        where T.RawValue == String {
            guard let value else { return nil }
            guard let parsed = T(rawValue: value) else {
                throw invalid(field, "'\(value)' is not one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return parsed
        }
        if let problem = QpilotConfig.nameProblem(name) { throw invalid("name", problem) }
        guard !source.isEmpty else { throw invalid("source", "must not be empty: a path, http(s):// or oci:// reference") }
        var pin: String?
        if let sha256 {
            guard let normalized = QpilotConfig.normalizedSHA256(sha256) else { throw invalid("sha256", QpilotConfig.sha256Problem) }
            pin = normalized
        }
        if let fleets {
            guard !fleets.isEmpty else { throw invalid("fleets", "an empty fleet list would apply to no node; omit it for every fleet") }
            if let bad = fleets.first(where: { $0.isEmpty }) { throw invalid("fleets", "a fleet name must not be empty ('\(bad)')") }
        }
        return QpilotConfig.MiddlewareEntry(
            name: name, source: source, config: config?.moduleConfiguration ?? "",
            failurePolicy: try oneOf(failurePolicy, "failurePolicy", Middleware.FailurePolicy.self) ?? .closed,
            phase: try oneOf(phase, "phase", Middleware.Phase.self), priority: priority ?? 0, fleets: fleets,
            delivery: try oneOf(delivery, "delivery", QpilotConfig.Delivery.self), sha256: pin,
            pullPolicy: try oneOf(pullPolicy, "pullPolicy", QpilotConfig.PullPolicy.self) ?? .IfNotPresent, line: nil,
            storedSHA256: resolvedSHA256)
    }

    /// Equal as desired state: what qpilot filled in (the resolved sha256) does not count.
    func sameDesire(as other: MiddlewareSpec) -> Bool {
        var left = self
        var right = other
        left.resolvedSHA256 = nil
        right.resolvedSHA256 = nil
        return left == right
    }
}

/// `${secret:NAME}` references in a middleware's configuration.
enum SecretReferences {
    static let prefix = "${secret:"

    /// The secret names a configuration refers to, in order of appearance.
    static func names(in text: String) -> [String] {
        var names: [String] = []
        var rest = text[...]
        while let start = rest.range(of: prefix) {
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else { break }
            names.append(String(rest[start.upperBound..<end]))
            rest = rest[rest.index(after: end)...]
        }
        return names
    }

    /// Replaces every reference with its value, escaped for a JSON string (a configuration is
    /// JSON in nearly every case, and API keys need no escaping anyway). A name with no secret
    /// throws `missing`, naming it, and nothing is replaced.
    static func resolve(_ text: String, secrets: [String: String]) throws(MissingSecret) -> String {
        guard text.contains(prefix) else { return text }
        var output = ""
        var rest = text[...]
        while let start = rest.range(of: prefix) {
            guard let end = rest[start.upperBound...].firstIndex(of: "}") else { break }
            let name = String(rest[start.upperBound..<end])
            guard let value = secrets[name] else { throw MissingSecret(name: name) }
            output += rest[..<start.lowerBound]
            output += jsonEscaped(value)
            rest = rest[rest.index(after: end)...]
        }
        return output + rest
    }

    struct MissingSecret: Error {
        let name: String
    }

    /// The value as the inside of a JSON string (YAMLReader writes JSON strings the same way).
    static func jsonEscaped(_ value: String) -> String {
        String(YAMLReader.quote(value).dropFirst().dropLast())
    }
}
