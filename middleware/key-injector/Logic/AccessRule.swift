/// What one internal key may do: hosts, methods and path globs. A request is allowed by a rule
/// when its host, method and path all match.
public struct AccessRule: Equatable, Sendable {
    /// Host patterns; at least one must match.
    public var domains: [DomainPattern]
    /// Upper-case methods; `*` allows any.
    public var methods: [String]
    /// Path globs, matched against the path without its query string.
    public var paths: [PathGlob]

    /// Creates a rule.
    public init(domains: [DomainPattern], methods: [String] = ["*"], paths: [PathGlob] = [PathGlob("/**")]) {
        self.domains = domains
        self.methods = methods
        self.paths = paths
    }

    /// How far a request got through this rule.
    public enum Check: Int, Comparable, Sendable {
        /// The host is not allowed.
        case domainRefused = 0
        /// The host is, the method is not.
        case methodRefused = 1
        /// Host and method are, the path is not.
        case pathRefused = 2
        /// Everything matches.
        case allowed = 3

        /// Orders checks by how far they got.
        public static func < (lhs: Check, rhs: Check) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    /// Checks host, then method, then path.
    public func check(method: String, authority: String, path: String) -> Check {
        guard domains.contains(where: { $0.matches(authority) }) else { return .domainRefused }
        guard methods.contains("*") || methods.contains(method) else { return .methodRefused }
        let pathOnly = AccessRule.stripQuery(path)
        guard paths.contains(where: { $0.matches(pathOnly) }) else { return .pathRefused }
        return .allowed
    }

    /// The path without `?query` or `#fragment`.
    public static func stripQuery(_ path: String) -> String {
        let bytes = Array(path.utf8)
        guard let end = bytes.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) else {
            return path
        }
        return String(decoding: bytes[..<end], as: UTF8.self)
    }
}
