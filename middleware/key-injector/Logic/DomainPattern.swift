/// A host pattern: `*` (any host), `*.example.com` (any subdomain, not `example.com` itself) or an
/// exact name. Matching ignores case, and ignores the request's port unless the pattern has one.
public struct DomainPattern: Equatable, Sendable {
    /// The pattern as configured, lower-cased.
    public let pattern: String

    /// Creates a pattern.
    public init(_ pattern: String) {
        self.pattern = DomainPattern.lowercased(pattern)
    }

    /// Whether `authority` (host, optionally with `:port`) matches.
    public func matches(_ authority: String) -> Bool {
        if pattern == "*" {
            return true
        }
        let host = DomainPattern.lowercased(hasPort(pattern) ? authority : DomainPattern.stripPort(authority))
        if pattern.utf8.first == UInt8(ascii: "*"), pattern.utf8.dropFirst().first == UInt8(ascii: ".") {
            let suffix = Array(pattern.utf8.dropFirst())  // ".example.com"
            let bytes = Array(host.utf8)
            return bytes.count > suffix.count && Array(bytes[(bytes.count - suffix.count)...]) == suffix
        }
        return host == pattern
    }

    /// The host without a trailing `:port` (IPv6 literals keep their brackets).
    public static func stripPort(_ authority: String) -> String {
        let bytes = Array(authority.utf8)
        var index = bytes.count - 1
        while index >= 0 && ASCII.isDigit(bytes[index]) {
            index -= 1
        }
        if index >= 0, index < bytes.count - 1, bytes[index] == UInt8(ascii: ":"), !bytes[..<index].contains(UInt8(ascii: ":")) || bytes[index - 1] == UInt8(ascii: "]") {
            return String(decoding: bytes[..<index], as: UTF8.self)
        }
        return authority
    }

    private func hasPort(_ text: String) -> Bool {
        DomainPattern.stripPort(text) != text
    }

    static func lowercased(_ text: String) -> String {
        String(decoding: text.utf8.map(ASCII.lowercased), as: UTF8.self)
    }
}
