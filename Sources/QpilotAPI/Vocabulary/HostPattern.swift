/// A host name to intercept: an exact name (`api.stripe.com`) or a wildcard for every name under a
/// domain (`*.openai.com`), the way Envoy's `server_names` and virtual-host suffix wildcards read
/// them: `*.openai.com` matches `api.openai.com` and `eu.api.openai.com`, not `openai.com`.
public struct HostPattern: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    /// The pattern as written, lower-cased.
    public let text: String

    /// Checks and lower-cases a pattern; the error says what a valid one looks like.
    public init(parsing raw: String) throws(HostPatternError) {
        let text = raw.lowercased()
        let name = text.hasPrefix("*.") ? String(text.dropFirst(2)) : text
        if let problem = Self.nameProblem(name) {
            throw HostPatternError("'\(raw)' is not a host name or '*.domain' pattern: \(problem)")
        }
        if text.hasPrefix("*."), !name.contains(".") {
            throw HostPatternError("'\(raw)' would intercept a whole top-level domain; name a domain under it, such as '*.example.\(name)'")
        }
        self.text = text
    }

    /// Whether `name` (a server name or host, without port) is one this pattern covers.
    public func matches(_ name: String) -> Bool {
        let name = name.lowercased()
        if isWildcard { return name.hasSuffix(text.dropFirst()) && name.count > text.count - 1 }
        return name == text
    }

    /// True for `*.domain`.
    public var isWildcard: Bool { text.hasPrefix("*.") }

    public var description: String { text }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.text < rhs.text }

    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        do { self = try HostPattern(parsing: raw) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(text)
    }

    /// Why `name` is not a DNS host name (RFC 1123 labels: letters, digits, hyphens, 1–63 each,
    /// 253 in all, no leading or trailing hyphen), or nil. IP addresses are refused: a client that
    /// connects by address sends no server name, so there is nothing to intercept.
    public static func nameProblem(_ name: String) -> String? {
        guard !name.isEmpty else { return "it is empty" }
        guard name.utf8.count <= 253 else { return "it is longer than 253 characters" }
        if name.contains("*") { return "'*' may only stand alone as the first label ('*.example.com')" }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        for label in labels {
            guard !label.isEmpty else { return "it has an empty label" }
            guard label.utf8.count <= 63 else { return "the label '\(label)' is longer than 63 characters" }
            guard label.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else {
                return "the label '\(label)' has a character other than a letter, a digit or '-'"
            }
            guard label.first != "-", label.last != "-" else { return "the label '\(label)' starts or ends with '-'" }
        }
        if labels.allSatisfy({ $0.allSatisfy(\.isNumber) }) { return "it is an IP address; intercepted names are host names" }
        return nil
    }
}

/// Why a host pattern is refused.
public struct HostPatternError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
