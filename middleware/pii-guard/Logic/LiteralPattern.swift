/// A literal string to find, for example an internal project name.
public struct LiteralPattern: Equatable, Sendable {
    /// The name used in metrics, logs and block responses.
    public let name: String
    /// The bytes to find (lower case when the match ignores case).
    public let bytes: [UInt8]
    /// Whether case must match (ASCII letters only).
    public let caseSensitive: Bool

    /// Creates a pattern; an empty literal never matches.
    public init(name: String, literal: String, caseSensitive: Bool = false) {
        self.name = name
        self.caseSensitive = caseSensitive
        self.bytes = caseSensitive ? Array(literal.utf8) : Array(literal.utf8).map(ASCII.lowercased)
    }
}
