import Foundation

/// One middleware as the admin API reads and writes it, and as the store keeps it.
///
/// Only `name` and `source` are required. Absent fields take the same defaults as in
/// qpilot.yaml: pull policy `IfNotPresent`, failure policy `closed`, no phase, priority 0, every
/// fleet, the server's delivery mode, enabled.
public struct MiddlewareSpec: Codable, Sendable, Equatable {
    public var name: String
    /// A path or `file://` URL (read by the qpilot server), `http(s)://…` (.wasm, .tar.gz) or
    /// `oci://host[:port]/repo:tag` / `…@sha256:…`.
    public var source: String
    /// A pin: the module's sha256 (64 hex digits, optionally after `sha256:`).
    public var sha256: String?
    public var pullPolicy: PullPolicy?
    /// What the module's `proxy_on_configure` receives: a string as written, anything else as
    /// JSON. A string `${secret:NAME}` anywhere in it is replaced by that secret's value when
    /// qpilot builds Envoy's config; the API never returns the value.
    public var config: JSONValue?
    public var failurePolicy: FailurePolicy?
    /// Where it runs; within a phase, the higher priority runs first.
    public var phase: Phase?
    public var priority: Int?
    /// The fleets it applies to; absent means every fleet.
    public var fleets: [String]?
    /// Absent means the server's `delivery`.
    public var delivery: Delivery?
    /// A disabled middleware stays in the store but is not sent to Envoy.
    public var enabled: Bool?
    /// Set by qpilot: the sha256 of the module it validated for this entry. Ignored on writes.
    public var resolvedSHA256: String?

    public init(
        name: String, source: String, sha256: String? = nil, pullPolicy: PullPolicy? = nil, config: JSONValue? = nil,
        failurePolicy: FailurePolicy? = nil, phase: Phase? = nil, priority: Int? = nil, fleets: [String]? = nil,
        delivery: Delivery? = nil, enabled: Bool? = nil, resolvedSHA256: String? = nil
    ) {
        self.name = name
        self.source = source
        self.sha256 = sha256
        self.pullPolicy = pullPolicy
        self.config = config
        self.failurePolicy = failurePolicy
        self.phase = phase
        self.priority = priority
        self.fleets = fleets
        self.delivery = delivery
        self.enabled = enabled
        self.resolvedSHA256 = resolvedSHA256
    }

    public var isEnabled: Bool { enabled ?? true }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, source, sha256, pullPolicy, config, failurePolicy, phase, priority, fleets, delivery, enabled
        case resolvedSHA256 = "resolvedSha256"
    }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.stringValue), what: "a middleware")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        source = try container.decode(String.self, forKey: .source)
        sha256 = try container.decodeIfPresent(String.self, forKey: .sha256)
        pullPolicy = try container.decodeIfPresent(PullPolicy.self, forKey: .pullPolicy)
        config = try container.decodeIfPresent(JSONValue.self, forKey: .config)
        failurePolicy = try container.decodeIfPresent(FailurePolicy.self, forKey: .failurePolicy)
        phase = try container.decodeIfPresent(Phase.self, forKey: .phase)
        priority = try container.decodeIfPresent(Int.self, forKey: .priority)
        fleets = try container.decodeIfPresent([String].self, forKey: .fleets)
        delivery = try container.decodeIfPresent(Delivery.self, forKey: .delivery)
        enabled = try container.decodeIfPresent(Bool.self, forKey: .enabled)
        resolvedSHA256 = try container.decodeIfPresent(String.self, forKey: .resolvedSHA256)
    }
}

/// `GET /v1/middleware`: the chain at the head revision.
public struct MiddlewareList: Codable, Sendable, Equatable {
    public var mode: ChainMode
    /// The head revision; 0 before the first write. Send it back as `If-Match` to write safely.
    public var revision: Int
    public var middleware: [MiddlewareSpec]

    public init(mode: ChainMode, revision: Int, middleware: [MiddlewareSpec]) {
        self.mode = mode
        self.revision = revision
        self.middleware = middleware
    }
}

/// Where the chain comes from.
public enum ChainMode: String, Vocabulary {
    /// qpilot.yaml has a `middleware:` section and is the source of truth; API writes get 409.
    case file
    /// The store's head revision, written through the admin API.
    case store

}

/// `POST /v1/apply`: a whole desired chain, written as one revision.
public struct ApplyDocument: Codable, Sendable, Equatable {
    public var middleware: [MiddlewareSpec]

    public init(middleware: [MiddlewareSpec]) { self.middleware = middleware }

    enum CodingKeys: String, CodingKey, CaseIterable { case middleware }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.stringValue), what: "an apply document")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        middleware = try container.decode([MiddlewareSpec].self, forKey: .middleware)
    }
}

/// The answer to every write that makes a revision.
public struct WriteResult: Codable, Sendable, Equatable {
    public var revision: Int
    /// Where to follow the rollout: `/v1/rollouts/<revision>`.
    public var rollout: String
    /// False when the write changed nothing (the same document again): no revision was made and
    /// `revision` is the head.
    public var changed: Bool

    public init(revision: Int, rollout: String, changed: Bool) {
        self.revision = revision
        self.rollout = rollout
        self.changed = changed
    }
}

/// One entry of the history.
public struct RevisionSummary: Codable, Sendable, Equatable {
    public var revision: Int
    /// Who wrote it: the client's `X-Qpilot-Actor` when sent, and the token's fingerprint.
    public var author: String
    public var createdAt: Date
    /// What the write was, e.g. `push pii-guard`, `apply`, `rollback to 3`.
    public var action: String
    /// Middleware names in the revision, in the order written.
    public var middleware: [String]

    public init(revision: Int, author: String, createdAt: Date, action: String, middleware: [String]) {
        self.revision = revision
        self.author = author
        self.createdAt = createdAt
        self.action = action
        self.middleware = middleware
    }
}

/// `GET /v1/revisions`, newest first.
public struct RevisionList: Codable, Sendable, Equatable {
    /// The most revisions one answer holds (`?limit=` above it is capped).
    public static let maxLimit = 1000

    public var revisions: [RevisionSummary]
    public init(revisions: [RevisionSummary]) { self.revisions = revisions }
}

/// `GET /v1/revisions/<n>`: one revision's whole desired state.
public struct RevisionDetail: Codable, Sendable, Equatable {
    public var summary: RevisionSummary
    public var middleware: [MiddlewareSpec]

    public init(summary: RevisionSummary, middleware: [MiddlewareSpec]) {
        self.summary = summary
        self.middleware = middleware
    }
}

/// `PUT /v1/secrets/<name>`. The value is write-only: no response ever contains it.
public struct SecretWrite: Codable, Sendable, Equatable {
    public var value: String
    public init(value: String) { self.value = value }

    enum CodingKeys: String, CodingKey, CaseIterable { case value }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.stringValue), what: "a secret")
        value = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .value)
    }
}

/// A secret's name and when it last changed; never its value.
public struct SecretInfo: Codable, Sendable, Equatable {
    public var name: String
    public var updatedAt: Date
    public var updatedBy: String

    public init(name: String, updatedAt: Date, updatedBy: String) {
        self.name = name
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }
}

/// `GET /v1/secrets`.
public struct SecretList: Codable, Sendable, Equatable {
    public var secrets: [SecretInfo]
    public init(secrets: [SecretInfo]) { self.secrets = secrets }
}

/// `POST /v1/modules/validate`. The answer is the module's validation report, the same JSON as
/// `qctl module inspect --output json` (Modules' `ModuleReport`), or a 422 naming the problem.
public struct ValidateRequest: Codable, Sendable, Equatable {
    public var source: String
    public var sha256: String?

    public init(source: String, sha256: String? = nil) {
        self.source = source
        self.sha256 = sha256
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case source, sha256 }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.stringValue), what: "a validate request")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        source = try container.decode(String.self, forKey: .source)
        sha256 = try container.decodeIfPresent(String.self, forKey: .sha256)
    }
}

/// Rejects a JSON object with fields the type does not know, naming them; JSONDecoder would
/// otherwise drop a misspelt field in silence.
public enum StrictKeys {
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public static func check(_ decoder: any Decoder, allowed: [String], what: String) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        let unknown = container.allKeys.map(\.stringValue).filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription:
                        "unknown field\(unknown.count == 1 ? "" : "s") \(unknown.map { "'\($0)'" }.joined(separator: ", ")) in \(what); known fields: \(allowed.joined(separator: ", "))"
                ))
        }
    }
}
