/// The result of a host call (Proxy-Wasm `proxy_status_t`).
///
/// A struct over the raw code rather than an enum, so that a host that adds codes does not
/// break a switch in middleware code.
public struct HostStatus: Equatable, Sendable {
    /// The raw `proxy_status_t` value.
    public let rawValue: UInt32

    /// Wraps a raw status code.
    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// The call succeeded.
    public static let ok = HostStatus(rawValue: 0)
    /// The header, property, buffer or shared-data key does not exist.
    public static let notFound = HostStatus(rawValue: 1)
    /// An argument was invalid (for a callout: a required pseudo-header is missing).
    public static let badArgument = HostStatus(rawValue: 2)
    /// The host could not serialize the value.
    public static let serializationFailure = HostStatus(rawValue: 3)
    /// The host could not parse what the module sent.
    public static let parseFailure = HostStatus(rawValue: 4)
    /// A pointer or size was outside the module's memory.
    public static let invalidMemoryAccess = HostStatus(rawValue: 6)
    /// The buffer or queue is empty.
    public static let empty = HostStatus(rawValue: 7)
    /// A shared-data compare-and-swap found a newer value.
    public static let casMismatch = HostStatus(rawValue: 8)
    /// The host failed internally (for a callout: the cluster does not exist).
    public static let internalFailure = HostStatus(rawValue: 10)
    /// The host does not implement the call.
    public static let unimplemented = HostStatus(rawValue: 12)

    /// Whether the call succeeded.
    public var isOK: Bool { rawValue == 0 }

    /// A short name for log lines.
    public var name: String {
        switch rawValue {
        case 0: return "ok"
        case 1: return "not found"
        case 2: return "bad argument"
        case 3: return "serialization failure"
        case 4: return "parse failure"
        case 5: return "bad expression"
        case 6: return "invalid memory access"
        case 7: return "empty"
        case 8: return "compare-and-swap mismatch"
        case 9: return "result mismatch"
        case 10: return "internal failure"
        case 11: return "broken connection"
        case 12: return "unimplemented"
        default: return "status \(rawValue)"
        }
    }
}

/// A host call that failed, or a request the SDK refused before calling the host. The message
/// names the call and the reason, so a log line says what went wrong.
public struct HostError: Error, Sendable {
    /// What the host returned (``HostStatus/badArgument`` when the SDK refused the request).
    public let status: HostStatus
    /// The operation that failed, for example `proxy_http_call`.
    public let operation: String
    /// A reason more specific than the status, when there is one.
    public let detail: String?

    /// Creates an error for `operation`.
    public init(_ status: HostStatus, in operation: String, detail: String? = nil) {
        self.status = status
        self.operation = operation
        self.detail = detail
    }

    /// "proxy_http_call failed: bad argument".
    public var message: String {
        operation + " failed: " + (detail ?? status.name)
    }
}
