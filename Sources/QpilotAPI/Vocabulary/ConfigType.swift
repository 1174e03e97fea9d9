/// The kinds of Envoy config qpilot serves, as status and rollouts name them: the keys of every
/// version map in the admin API (`acked`, `desired`, a NACK's `type`).
public enum ConfigType: String, Vocabulary, Comparable, CodingKeyRepresentable {
    case clusters = "CDS"
    case endpoints = "EDS"
    case listeners = "LDS"
    case routes = "RDS"
    case middleware = "ECDS"
    case secrets = "SDS"


    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    public var codingKey: any CodingKey { VocabularyKey(stringValue: rawValue) }

    public init?<T: CodingKey>(codingKey: T) { self.init(rawValue: codingKey.stringValue) }
}

/// Versions of each config type, as a node holds them or should.
public typealias ConfigVersions = [ConfigType: String]
