import QpilotAPI

/// One middleware of the chain, checked and with its defaults filled in, before its module is
/// loaded. qpilot.yaml's `middleware:` entries and the store's revisions both become these, by
/// the same rules (`MiddlewareRules` and the vocabularies in QpilotAPI).
public struct ChainEntry: Sendable, Equatable {
    public var name: String
    public var source: String
    /// The configuration as the module receives it (JSON, or a string as written).
    public var config: String
    public var failurePolicy: FailurePolicy
    public var phase: Phase?
    public var priority: Int
    public var fleets: [String]?
    public var delivery: Delivery?
    /// The module's expected sha256, when pinned.
    public var sha256: String?
    public var pullPolicy: PullPolicy
    /// Where the entry is: its index in the whole chain (disabled entries count), and for a file
    /// entry the lines of the entry and of its `source` and `sha256` fields.
    public var place: Place
    /// For an entry from the store: the module its revision was validated with. With
    /// `IfNotPresent`, exactly those bytes are used again, so a revision (and a rollback to it)
    /// always means the same module.
    public var storedSHA256: String? = nil

    /// What decides which module the entry gets, and where its problems point: equal keys load
    /// the same module with the same error text.
    var fetchKey: String {
        [name, source, sha256 ?? "", storedSHA256 ?? "", pullPolicy.rawValue, delivery?.rawValue ?? "", "\(place.index)"]
            .joined(separator: "\u{0}")
    }

    public struct Place: Sendable, Equatable {
        public var index: Int
        public var line: Int?
        public var sourceLine: Int?
        public var sha256Line: Int?

        public init(index: Int, line: Int? = nil, sourceLine: Int? = nil, sha256Line: Int? = nil) {
            self.index = index
            self.line = line
            self.sourceLine = sourceLine
            self.sha256Line = sha256Line
        }
    }

    public init(
        name: String, source: String, config: String = "", failurePolicy: FailurePolicy = .closed, phase: Phase? = nil,
        priority: Int = 0, fleets: [String]? = nil, delivery: Delivery? = nil, sha256: String? = nil,
        pullPolicy: PullPolicy = .ifNotPresent, place: Place, storedSHA256: String? = nil
    ) {
        self.name = name
        self.source = source
        self.config = config
        self.failurePolicy = failurePolicy
        self.phase = phase
        self.priority = priority
        self.fleets = fleets
        self.delivery = delivery
        self.sha256 = sha256
        self.pullPolicy = pullPolicy
        self.place = place
        self.storedSHA256 = storedSHA256
    }

    /// A problem with this entry's `field`, placed at that field's line when known.
    func problem(_ code: QpilotError.Code, _ field: String, _ message: String, cause: (any Error)? = nil) -> QpilotError {
        let line: Int? =
            switch field {
            case "source": place.sourceLine ?? place.line
            case "sha256": place.sha256Line ?? place.line
            default: place.line
            }
        return QpilotError(code, message, line: line, field: "middleware[\(place.index)].\(field)", cause: cause)
    }

    /// An API document's middleware, checked by the rules every entry follows. Problems are
    /// `invalid`, naming the entry and the field.
    public init(spec: MiddlewareSpec, index: Int) throws(QpilotError) {
        func invalid(_ field: String, _ message: String) -> QpilotError {
            QpilotError(.invalid, "middleware[\(index)] '\(spec.name)': \(field): \(message)", details: ["field": field])
        }
        if let problem = MiddlewareRules.nameProblem(spec.name) { throw invalid("name", problem) }
        guard !spec.source.isEmpty else { throw invalid("source", MiddlewareRules.sourceProblem) }
        var pin: String?
        if let sha256 = spec.sha256 {
            guard let normalized = MiddlewareRules.normalizedSHA256(sha256) else {
                throw invalid("sha256", MiddlewareRules.sha256Problem)
            }
            pin = normalized
        }
        if let fleets = spec.fleets, let problem = MiddlewareRules.fleetsProblem(fleets) { throw invalid("fleets", problem) }
        self.init(
            name: spec.name, source: spec.source, config: spec.config?.moduleConfiguration ?? "",
            failurePolicy: spec.failurePolicy ?? .closed, phase: spec.phase, priority: spec.priority ?? 0, fleets: spec.fleets,
            delivery: spec.delivery, sha256: pin, pullPolicy: spec.pullPolicy ?? .ifNotPresent, place: Place(index: index),
            storedSHA256: spec.resolvedSHA256)
    }

    /// The entry in the API's shape, for reading a file-mode chain.
    public var spec: MiddlewareSpec {
        MiddlewareSpec(
            name: name, source: source, sha256: sha256, pullPolicy: pullPolicy, config: config.isEmpty ? nil : .string(config),
            failurePolicy: failurePolicy, phase: phase, priority: priority, fleets: fleets, delivery: delivery)
    }
}

extension Array where Element == MiddlewareSpec {
    /// The enabled entries of a chain, each checked (and placed by its index in the whole chain).
    func enabledEntries() throws(QpilotError) -> [ChainEntry] {
        if let problem = MiddlewareRules.chainLengthProblem(count) { throw QpilotError(.invalid, problem) }
        var entries: [ChainEntry] = []
        for (index, spec) in enumerated() {
            let entry = try ChainEntry(spec: spec, index: index)
            if spec.isEnabled { entries.append(entry) }
        }
        return entries
    }
}
