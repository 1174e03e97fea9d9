/// A closed set of spellings that qpilot.yaml, the admin API and qctl share: each value is
/// declared once, here, and read the same way everywhere.
///
/// Decoding an unknown spelling fails with ``UnknownValue``, which names the value and the
/// allowed ones, so the YAML loader and the admin API give the same message.
public protocol Vocabulary: RawRepresentable<String>, CaseIterable, Codable, Sendable, Hashable {}

/// A value that is not one of a vocabulary's spellings.
public struct UnknownValue: Error, Equatable, CustomStringConvertible {
    public var value: String
    public var allowed: [String]

    public init(value: String, allowed: [String]) {
        self.value = value
        self.allowed = allowed
    }

    public var description: String { "'\(value)' is not one of: \(allowed.joined(separator: ", "))" }
}

extension Vocabulary {
    /// Parses a spelling, or throws ``UnknownValue``.
    public static func parse(_ text: String) throws(UnknownValue) -> Self {
        guard let value = Self(rawValue: text) else { throw UnknownValue(value: text, allowed: allCases.map(\.rawValue)) }
        return value
    }

    /// Decodes a string and refuses an unknown spelling with ``UnknownValue`` as the underlying
    /// error (the admin API reports it as `invalid`, naming the field). More specific than the
    /// standard library's decoder for string enums, so every vocabulary gets it.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try Self.parse(text)
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: error.description, underlyingError: error))
        }
    }
}

/// What Envoy does when a middleware's module cannot run.
public enum FailurePolicy: String, Vocabulary {
    /// Requests are refused.
    case closed
    /// Requests pass without this middleware.
    case open

}

/// Where in the chain a middleware runs: `authn` before `authz` before `stats`, and a middleware
/// with no phase after all of them. Within a phase the higher priority runs first.
public enum Phase: String, Vocabulary, Comparable {
    case authn, authz, stats


    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rank < rhs.rank }

    private var rank: Int {
        switch self {
        case .authn: 0
        case .authz: 1
        case .stats: 2
        }
    }
}

/// When a source (a tag or a URL) is fetched again.
public enum PullPolicy: String, Vocabulary {
    /// Fetch once; reuse the stored module after that, across restarts too.
    case ifNotPresent = "IfNotPresent"
    /// Fetch on every reconcile, and roll out a new digest when the source changed.
    case always = "Always"

}

/// How Envoy gets a module's bytes.
public enum Delivery: String, Vocabulary {
    /// In the middleware's ECDS resource; a module Envoy cannot load is NACKed.
    case inline
    /// From a file qpilot writes into a directory shared with Envoy (`modules.sharedDir`).
    case file
    /// Fetched by Envoy from qpilot's module endpoint.
    case remote

}
