import Foundation

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
