/// A kind of personal data pii-guard detects. The built-in kinds come first; custom literal
/// patterns follow, numbered in configuration order.
public struct PIIKind: Hashable, Sendable {
    /// 0 card, 1 e-mail, 2 SSN, 3 and up: custom patterns.
    public let index: Int

    /// Creates a kind from its index.
    public init(index: Int) {
        self.index = index
    }

    /// A payment card number.
    public static let card = PIIKind(index: 0)
    /// An e-mail address.
    public static let email = PIIKind(index: 1)
    /// A US social security number.
    public static let ssn = PIIKind(index: 2)
    /// The number of built-in kinds.
    public static let builtInCount = 3

    /// The custom pattern with configuration index `patternIndex`.
    public static func custom(_ patternIndex: Int) -> PIIKind {
        PIIKind(index: builtInCount + patternIndex)
    }

    /// The built-in kinds' names as configuration and metrics spell them.
    public static let builtInNames = ["card", "email", "ssn"]
}

/// Where a match lies in the scanned bytes, and what it is.
public struct PIIMatch: Equatable, Sendable {
    /// What was found.
    public let kind: PIIKind
    /// Byte offsets, relative to the start of what was scanned.
    public let start: Int
    /// One past the last byte.
    public let end: Int

    /// Creates a match.
    public init(kind: PIIKind, start: Int, end: Int) {
        self.kind = kind
        self.start = start
        self.end = end
    }
}

/// How many matches of each kind were found.
public struct FindingCounts: Equatable, Sendable {
    /// Counts indexed by ``PIIKind/index``.
    public private(set) var counts: [Int]

    /// Zero counts for the built-in kinds plus `customPatternCount` custom ones.
    public init(customPatternCount: Int = 0) {
        counts = Array(repeating: 0, count: PIIKind.builtInCount + customPatternCount)
    }

    /// Adds one finding of `kind`.
    public mutating func add(_ kind: PIIKind, _ amount: Int = 1) {
        while counts.count <= kind.index {
            counts.append(0)
        }
        counts[kind.index] += amount
    }

    /// Adds every finding in `matches`.
    public mutating func add(_ matches: [PIIMatch]) {
        for match in matches {
            add(match.kind)
        }
    }

    /// Adds `other`'s counts.
    public mutating func add(_ other: FindingCounts) {
        for (index, count) in other.counts.enumerated() where count > 0 {
            add(PIIKind(index: index), count)
        }
    }

    /// The count for `kind`.
    public subscript(kind: PIIKind) -> Int {
        kind.index < counts.count ? counts[kind.index] : 0
    }

    /// The total over all kinds.
    public var total: Int { counts.reduce(0, +) }

    /// The kinds with at least one finding, in index order.
    public var kindsFound: [PIIKind] {
        counts.indices.filter { counts[$0] > 0 }.map { PIIKind(index: $0) }
    }
}
