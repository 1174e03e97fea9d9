import ProxyWasm

/// pii-guard's configuration, read from the plugin configuration (JSON).
///
/// ```json
/// {
///   "mode": "scrub",
///   "detectors": ["card", "email", "ssn"],
///   "customPatterns": ["BLUEBIRD", {"name": "codename", "literal": "Nightjar", "caseSensitive": true}],
///   "scan": ["requestBody", "query", "headers", "responseBody"],
///   "maxBodyBytes": 524288,
///   "oversizePolicy": "block",
///   "maskCharacter": "*",
///   "metricPrefix": "pii_guard"
/// }
/// ```
///
/// Only `mode` is needed: `{"mode": "scrub"}` turns on every built-in detector, on request
/// bodies.
public struct PIIGuardConfig: Equatable, Sendable {
    /// What to do with what is found.
    public enum Mode: String, Sendable {
        /// Count by kind in metrics and log a line, never the value; change nothing.
        case report
        /// Mask what is found in place (same length, so `content-length` stays right).
        case scrub
        /// Answer with a 403 naming the kinds found; the upstream never sees the request.
        case block
    }

    /// What happens to a body larger than ``maxBodyBytes`` in scrub and block modes.
    public enum OversizePolicy: String, Sendable {
        /// Let it through unscanned (counted in the `oversize_passed` metric).
        case pass
        /// Answer 413.
        case block
    }

    /// Parts of the exchange pii-guard can scan.
    public struct Scope: OptionSet, Sendable {
        /// The raw bit set.
        public let rawValue: UInt8
        /// Creates a scope from bits.
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The request body (the default).
        public static let requestBody = Scope(rawValue: 1)
        /// The values of the request's query string.
        public static let query = Scope(rawValue: 2)
        /// The request's header values (pseudo-headers excluded).
        public static let headers = Scope(rawValue: 4)
        /// The response body.
        public static let responseBody = Scope(rawValue: 8)
    }

    /// report, scrub or block.
    public var mode: Mode
    /// The detectors, custom patterns included.
    public var detector: PIIDetector
    /// What to scan.
    public var scope: Scope
    /// The largest body scrub and block modes buffer.
    public var maxBodyBytes: Int
    /// What happens beyond ``maxBodyBytes``.
    public var oversizePolicy: OversizePolicy
    /// The byte that replaces masked characters.
    public var maskCharacter: UInt8
    /// The prefix of every metric (Envoy shows it after `wasmcustom.`).
    public var metricPrefix: String

    /// The default limit: half of Envoy's default 1 MiB connection buffer, so that Envoy's own
    /// 413 never fires first.
    public static let defaultMaxBodyBytes = 512 * 1024

    /// Creates a configuration.
    public init(
        mode: Mode, detector: PIIDetector = PIIDetector(), scope: Scope = .requestBody,
        maxBodyBytes: Int = PIIGuardConfig.defaultMaxBodyBytes, oversizePolicy: OversizePolicy = .block,
        maskCharacter: UInt8 = UInt8(ascii: "*"), metricPrefix: String = "pii_guard"
    ) {
        self.mode = mode
        self.detector = detector
        self.scope = scope
        self.maxBodyBytes = maxBodyBytes
        self.oversizePolicy = oversizePolicy
        self.maskCharacter = maskCharacter
        self.metricPrefix = metricPrefix
    }

    /// Reads a configuration from JSON text; every mistake is reported with the field's name.
    public static func parse(_ bytes: [UInt8]) -> Result<PIIGuardConfig, ConfigError> {
        let document: JSONValue
        do {
            document = try JSON.parse(bytes)
        } catch {
            return .failure(ConfigError(error.message))
        }
        do {
            return .success(try PIIGuardConfig(json: document))
        } catch {
            return .failure(error)
        }
    }

    /// Reads a configuration from a parsed document.
    public init(json: JSONValue) throws(ConfigError) {
        guard let members = json.members else {
            throw ConfigError("the configuration must be a JSON object, found \(json.kindName)")
        }
        let known = ["mode", "detectors", "customPatterns", "scan", "maxBodyBytes", "oversizePolicy", "maskCharacter", "metricPrefix"]
        for member in members where !known.contains(member.key) {
            throw ConfigError("unknown field '\(member.key)'; known fields: \(known.joined(separator: ", "))")
        }

        guard let modeText = json["mode"]?.stringValue else {
            throw ConfigError("'mode' is required: \"report\", \"scrub\" or \"block\"")
        }
        guard let mode = Mode(rawValue: modeText) else {
            throw ConfigError("'mode' must be \"report\", \"scrub\" or \"block\", not \"\(modeText)\"")
        }
        self.init(mode: mode)

        if let detectors = json["detectors"] {
            let names = try ConfigError.strings(detectors, field: "detectors")
            detector.cards = false
            detector.emails = false
            detector.ssns = false
            for name in names {
                switch name {
                case "card": detector.cards = true
                case "email": detector.emails = true
                case "ssn": detector.ssns = true
                default: throw ConfigError("'detectors' has unknown detector \"\(name)\"; known: card, email, ssn")
                }
            }
        }

        if let patterns = json["customPatterns"] {
            guard let list = patterns.arrayValue else {
                throw ConfigError("'customPatterns' must be an array, found \(patterns.kindName)")
            }
            for (index, entry) in list.enumerated() {
                detector.literals.append(try PIIGuardConfig.literalPattern(entry, index: index))
            }
        }

        if let scan = json["scan"] {
            scope = []
            for name in try ConfigError.strings(scan, field: "scan") {
                switch name {
                case "requestBody": scope.insert(.requestBody)
                case "query": scope.insert(.query)
                case "headers": scope.insert(.headers)
                case "responseBody": scope.insert(.responseBody)
                default:
                    throw ConfigError("'scan' has unknown part \"\(name)\"; known: requestBody, query, headers, responseBody")
                }
            }
        }

        if let limit = json["maxBodyBytes"] {
            guard let value = limit.intValue, value > 0 else {
                throw ConfigError("'maxBodyBytes' must be a positive integer")
            }
            maxBodyBytes = value
        }

        if let policy = json["oversizePolicy"] {
            guard let text = policy.stringValue, let value = OversizePolicy(rawValue: text) else {
                throw ConfigError("'oversizePolicy' must be \"pass\" or \"block\"")
            }
            oversizePolicy = value
        }

        if let mask = json["maskCharacter"] {
            guard let text = mask.stringValue, text.utf8.count == 1, let byte = text.utf8.first,
                byte >= 0x21, byte < 0x7F
            else {
                throw ConfigError("'maskCharacter' must be one printable ASCII character, such as \"*\"")
            }
            maskCharacter = byte
        }

        if let prefix = json["metricPrefix"] {
            guard let text = prefix.stringValue, !text.isEmpty,
                text.utf8.allSatisfy({ ASCII.isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") })
            else {
                throw ConfigError("'metricPrefix' must be letters, digits, '_' or '.'")
            }
            metricPrefix = text
        }
    }

    private static func literalPattern(_ entry: JSONValue, index: Int) throws(ConfigError) -> LiteralPattern {
        if let literal = entry.stringValue {
            guard !literal.isEmpty else { throw ConfigError("'customPatterns'[\(index)] is empty") }
            return LiteralPattern(name: "custom_\(index)", literal: literal)
        }
        guard entry.members != nil else {
            throw ConfigError("'customPatterns'[\(index)] must be a string or an object with \"literal\"")
        }
        guard let literal = entry["literal"]?.stringValue, !literal.isEmpty else {
            throw ConfigError("'customPatterns'[\(index)] needs a non-empty \"literal\"")
        }
        let name = entry["name"]?.stringValue ?? "custom_\(index)"
        guard !name.isEmpty, name.utf8.allSatisfy({ ASCII.isAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }) else {
            throw ConfigError("'customPatterns'[\(index)].name must be letters, digits, '_' or '-'")
        }
        var caseSensitive = false
        if let flag = entry["caseSensitive"] {
            guard let value = flag.boolValue else {
                throw ConfigError("'customPatterns'[\(index)].caseSensitive must be true or false")
            }
            caseSensitive = value
        }
        return LiteralPattern(name: name, literal: literal, caseSensitive: caseSensitive)
    }
}

/// A configuration mistake, with a message that names the field.
public struct ConfigError: Error, Equatable, Sendable {
    /// What is wrong and how to fix it.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    /// The strings of an array field, or an error naming `field`.
    static func strings(_ value: JSONValue, field: String) throws(ConfigError) -> [String] {
        guard let elements = value.arrayValue else {
            throw ConfigError("'\(field)' must be an array of strings, found \(value.kindName)")
        }
        var result: [String] = []
        for element in elements {
            guard let text = element.stringValue else {
                throw ConfigError("'\(field)' must contain only strings, found \(element.kindName)")
            }
            result.append(text)
        }
        return result
    }
}
