import Store

/// Why qpilot refused something: a qpilot.yaml it cannot use, a write it will not commit, a
/// module it will not serve. Callers decide on `code`; `message` says what to do; `line` and
/// `field` place a problem in qpilot.yaml or in a chain.
///
/// The codes follow grpc-swift's `RuntimeError.Code`: a struct over a private enum, so a new code
/// breaks no caller's `switch`.
public struct QpilotError: Error, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String {
            case invalid, notFound, unknownRevision, duplicate, fileMode, staleRevision, invalidModule, missingSecret
            case secretInUse, invalidConfig, store, busy
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// A value breaks a rule: a name, a sha256, an enum, a YAML type.
        public static let invalid = Self(.invalid)
        /// No such middleware or secret, or a revision that made no rollout.
        public static let notFound = Self(.notFound)
        /// No revision with that number.
        public static let unknownRevision = Self(.unknownRevision)
        /// A name that exists already, or twice in one chain.
        public static let duplicate = Self(.duplicate)
        /// The chain is managed in qpilot.yaml, so the API does not write it.
        public static let fileMode = Self(.fileMode)
        /// A write expected a head revision that is no longer the head.
        public static let staleRevision = Self(.staleRevision)
        /// A module that cannot be fetched or stored, or that Envoy would refuse.
        public static let invalidModule = Self(.invalidModule)
        /// A config refers to a secret that is not set.
        public static let missingSecret = Self(.missingSecret)
        /// A secret that some middleware still refers to.
        public static let secretInUse = Self(.secretInUse)
        /// The Envoy config built from a chain is not one Envoy would accept.
        public static let invalidConfig = Self(.invalidConfig)
        /// The store or the data directory failed.
        public static let store = Self(.store)
        /// Other changes held the writer for too long; this one did not start.
        public static let busy = Self(.busy)

        public var description: String { wrapped.rawValue }
    }

    public var code: Code
    public var message: String
    /// 1-based line in qpilot.yaml, when the problem is in the file.
    public var line: Int?
    /// The dotted path of the field, such as `middleware[1].failurePolicy`; empty when none.
    public var field: String
    /// Machine-readable specifics for the admin API (`expected`, `head`, `name`, …).
    public var details: [String: String]
    /// What went wrong underneath, for logs.
    public var cause: (any Error)?

    public init(
        _ code: Code, _ message: String, line: Int? = nil, field: String = "", details: [String: String] = [:],
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.line = line
        self.field = field
        self.details = details
        self.cause = cause
    }

    /// A problem in qpilot.yaml, located by line and field.
    public init(line: Int?, field: String, _ message: String) {
        self.init(.invalid, message, line: line, field: field)
    }

    /// `line 4: middleware[0].source: …`, or `config: …` when no line is known.
    public var description: String {
        let location = line.map { "line \($0)" } ?? "config"
        return "\(location): \(located)"
    }

    /// The message with its field, for an API answer (which has no lines).
    public var located: String { field.isEmpty ? message : "\(field): \(message)" }

    /// The same problem, said of another place (a revision instead of the file, say).
    func prefixed(_ origin: String) -> QpilotError {
        var copy = self
        copy.message = origin + message
        return copy
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code && lhs.message == rhs.message && lhs.line == rhs.line && lhs.field == rhs.field
            && lhs.details == rhs.details
    }
}

extension QpilotError {
    static func unknownRevision(_ number: Int) -> QpilotError {
        QpilotError(.unknownRevision, "there is no revision \(number); `qctl history` lists them")
    }

    static func stale(expected: Int, head: Int) -> QpilotError {
        QpilotError(
            .staleRevision,
            "the write expected revision \(expected), but the head is revision \(head); read the current state (`qctl get`) and retry",
            details: ["expected": "\(expected)", "head": "\(head)"])
    }

    /// A store failure; the message says that nothing changed when the caller was writing.
    static func store(_ what: String, _ error: any Error) -> QpilotError {
        if let error = error as? QpilotError { return error }
        switch error as? StoreError {
        case .staleRevision(let expected, let head)?: return stale(expected: expected, head: head)
        case .invalidName?: return QpilotError(.invalid, "\(error)", cause: error)
        default: break
        }
        return QpilotError(.store, "\(what): \(error)", cause: error)
    }
}
