/// The `code` of an admin API error: stable and machine-readable, so qctl and scripts switch on
/// it rather than on a message. New codes may appear; a client that meets one it does not know
/// decodes it as itself and shows the message.
public struct APIErrorCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// The body is not valid JSON, or not the document the route takes. 400.
    public static let badRequest = Self(rawValue: "bad_request")
    /// A field's value breaks a rule (a name, a sha256, a fleet list, an enum value). 400; 422 when
    /// the Envoy config built from an otherwise valid chain would not be accepted.
    public static let invalid = Self(rawValue: "invalid")
    /// No token, or an unknown one. 401.
    public static let unauthorized = Self(rawValue: "unauthorized")
    /// A read-only token tried to write. 403.
    public static let forbidden = Self(rawValue: "forbidden")
    /// No middleware, node, secret or rollout by that name. 404.
    public static let notFound = Self(rawValue: "not_found")
    /// No revision with that number. 404.
    public static let unknownRevision = Self(rawValue: "unknown_revision")
    /// A name that exists already (create), or twice in one document. 409.
    public static let duplicate = Self(rawValue: "duplicate")
    /// qpilot.yaml has a `middleware:` section, so the API does not write. 409.
    public static let fileMode = Self(rawValue: "file_mode")
    /// `If-Match` named a revision that is no longer the head. 409.
    public static let staleRevision = Self(rawValue: "stale_revision")
    /// A secret that some middleware's config still refers to. 409.
    public static let secretInUse = Self(rawValue: "secret_in_use")
    /// The request body is over the limit. 413.
    public static let tooLarge = Self(rawValue: "too_large")
    /// A module that cannot be fetched, or that Envoy would refuse to load. 422.
    public static let invalidModule = Self(rawValue: "invalid_module")
    /// A config refers to `${secret:NAME}` and NAME is not set. 422.
    public static let missingSecret = Self(rawValue: "missing_secret")
    /// qpilot's store failed; nothing changed. 500.
    public static let store = Self(rawValue: "store")
    /// A write waited too long behind other changes and did not start; nothing changed. 503.
    public static let busy = Self(rawValue: "busy")

    /// Every code qpilot answers with, for the API reference and its tests.
    public static let all: [Self] = [
        .badRequest, .invalid, .unauthorized, .forbidden, .notFound, .unknownRevision, .duplicate, .fileMode,
        .staleRevision, .secretInUse, .tooLarge, .invalidModule, .missingSecret, .store, .busy,
    ]
}
