/// Which nodes a generated config is for: one named fleet, or every other fleet (the nodes of a
/// fleet that no middleware names, which all share one config). Spelt `*` in JSON and in the
/// rollout records the store keeps.
public enum FleetKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    case named(String)
    case everyOther

    static let everyOtherSpelling = "*"

    public init(_ spelling: String) {
        self = spelling == Self.everyOtherSpelling ? .everyOther : .named(spelling)
    }

    /// The fleet's name, or nil for every other fleet.
    public var name: String? {
        if case .named(let name) = self { return name }
        return nil
    }

    public var description: String { name ?? Self.everyOtherSpelling }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.description < rhs.description }
}

extension FleetKey: Codable, CodingKeyRepresentable {
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public var codingKey: any CodingKey { VocabularyKey(stringValue: description) }

    public init?<T: CodingKey>(codingKey: T) { self.init(codingKey.stringValue) }
}

/// A dictionary key spelt as a string, for vocabularies used as JSON object keys.
struct VocabularyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
