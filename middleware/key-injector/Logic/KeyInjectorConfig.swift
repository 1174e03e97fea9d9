import ProxyWasm

/// key-injector's configuration. The real keys are meant to come from qpilot secrets resolved
/// into this configuration; they are never logged, counted or echoed in errors.
///
/// ```json
/// {
///   "header": "authorization",
///   "scheme": "Bearer",
///   "queryParameter": "api_key",
///   "unknownKeys": "block",
///   "keys": [
///     {"name": "service-a", "internalKey": "int-a", "realKey": "sk-live-…",
///      "rules": [{"domains": ["api.example.com"], "methods": ["GET", "HEAD"], "paths": ["/v1/items", "/v1/items/*"]}]},
///     {"name": "service-b", "internalKey": "int-b", "realKey": "sk-live-…",
///      "rules": [{"domains": ["*"]}], "injectHeader": "x-api-key", "injectScheme": ""}
///   ]
/// }
/// ```
public struct KeyInjectorConfig: Equatable, Sendable {
    /// What happens to a request whose key is not configured.
    public enum UnknownKeyPolicy: String, Sendable {
        /// Answer 403.
        case block
        /// Let it through unchanged.
        case pass
    }

    /// The header internal keys arrive in (lower case).
    public var header: String
    /// The scheme before the key in that header ("Bearer"), or empty.
    public var scheme: String
    /// A query parameter internal keys may arrive in instead.
    public var queryParameter: String?
    /// What happens to unknown keys.
    public var unknownKeys: UnknownKeyPolicy
    /// The keys and their rules.
    public var policy: KeyPolicy

    /// Creates a configuration.
    public init(header: String = "authorization", scheme: String = "Bearer", queryParameter: String? = nil, unknownKeys: UnknownKeyPolicy = .block, policy: KeyPolicy) {
        self.header = header
        self.scheme = scheme
        self.queryParameter = queryParameter
        self.unknownKeys = unknownKeys
        self.policy = policy
    }

    /// Reads a configuration from JSON.
    public static func parse(_ bytes: [UInt8]) -> Result<KeyInjectorConfig, ConfigError> {
        do {
            return .success(try KeyInjectorConfig(json: try parseJSON(bytes)))
        } catch {
            return .failure(error)
        }
    }

    private static func parseJSON(_ bytes: [UInt8]) throws(ConfigError) -> JSONValue {
        do {
            return try JSON.parse(bytes)
        } catch {
            throw ConfigError(error.message)
        }
    }

    /// Reads a configuration from a parsed document.
    public init(json: JSONValue) throws(ConfigError) {
        let top = try Fields(json, at: "the configuration", known: ["header", "scheme", "queryParameter", "unknownKeys", "keys"])
        let header = try top.string("header") ?? "authorization"
        let scheme = try top.string("scheme") ?? (header == "authorization" ? "Bearer" : "")
        let queryParameter = try top.string("queryParameter")
        var unknownKeys = UnknownKeyPolicy.block
        if let text = try top.string("unknownKeys") {
            guard let policy = UnknownKeyPolicy(rawValue: text) else {
                throw ConfigError("'unknownKeys' must be \"block\" or \"pass\"")
            }
            unknownKeys = policy
        }
        guard let keyList = json["keys"]?.arrayValue, !keyList.isEmpty else {
            throw ConfigError("'keys' is required: a non-empty array of {name, internalKey, realKey, rules}")
        }
        var keys: [KeyEntry] = []
        for (index, item) in keyList.enumerated() {
            let entry = try KeyInjectorConfig.keyEntry(item, index: index)
            if let other = keys.firstIndex(where: { $0.name == entry.name }) {
                throw ConfigError("keys[\(index)]: name '\(entry.name)' is already used by keys[\(other)]")
            }
            if let other = keys.firstIndex(where: { $0.internalKey == entry.internalKey }) {
                throw ConfigError("keys[\(index)] ('\(entry.name)'): its internalKey is the same as keys[\(other)]'s")
            }
            keys.append(entry)
        }
        self.init(header: DomainPattern.lowercased(header), scheme: scheme, queryParameter: queryParameter, unknownKeys: unknownKeys, policy: KeyPolicy(keys: keys))
    }

    private static func keyEntry(_ item: JSONValue, index: Int) throws(ConfigError) -> KeyEntry {
        let fields = try Fields(item, at: "keys[\(index)]", known: ["name", "internalKey", "realKey", "rules", "injectHeader", "injectScheme"])
        guard let name = try fields.string("name"), !name.isEmpty else {
            throw ConfigError("keys[\(index)]: 'name' is required")
        }
        let place = "keys[\(index)] ('\(name)')"
        guard let internalKey = try fields.string("internalKey"), !internalKey.isEmpty else {
            throw ConfigError("\(place): 'internalKey' is required")
        }
        guard let realKey = try fields.string("realKey"), !realKey.isEmpty else {
            throw ConfigError("\(place): 'realKey' is required (resolve it from a qpilot secret)")
        }
        guard let ruleList = item["rules"]?.arrayValue, !ruleList.isEmpty else {
            throw ConfigError("\(place): 'rules' is required: a non-empty array of {domains, methods, paths}")
        }
        var rules: [AccessRule] = []
        for (ruleIndex, ruleItem) in ruleList.enumerated() {
            let rulePlace = "\(place).rules[\(ruleIndex)]"
            let ruleFields = try Fields(ruleItem, at: rulePlace, known: ["domains", "methods", "paths"])
            guard let domains = try ruleFields.strings("domains"), !domains.isEmpty else {
                throw ConfigError("\(rulePlace): 'domains' is required, for example [\"api.example.com\"] or [\"*\"]")
            }
            let methods = (try ruleFields.strings("methods") ?? ["*"]).map { String(decoding: $0.utf8.map(ASCII.uppercased), as: UTF8.self) }
            let paths = try ruleFields.strings("paths") ?? ["/**"]
            for path in paths where path.utf8.first != UInt8(ascii: "/") {
                throw ConfigError("\(rulePlace): path pattern '\(path)' must start with '/'")
            }
            rules.append(AccessRule(domains: domains.map(DomainPattern.init), methods: methods, paths: paths.map(PathGlob.init)))
        }
        let injectHeader = try fields.string("injectHeader").map(DomainPattern.lowercased)
        return KeyEntry(name: name, internalKey: internalKey, realKey: realKey, rules: rules, injectHeader: injectHeader, injectScheme: try fields.string("injectScheme"))
    }
}

/// The fields of one JSON object, with errors that say where.
struct Fields {
    let value: JSONValue
    let place: String

    init(_ value: JSONValue, at place: String, known: [String]) throws(ConfigError) {
        guard let members = value.members else {
            throw ConfigError("\(place) must be a JSON object, found \(value.kindName)")
        }
        for member in members where !known.contains(member.key) {
            throw ConfigError("\(place): unknown field '\(member.key)'; known fields: \(known.joined(separator: ", "))")
        }
        self.value = value
        self.place = place
    }

    func string(_ key: String) throws(ConfigError) -> String? {
        guard let field = value[key] else { return nil }
        guard let text = field.stringValue else {
            throw ConfigError("\(place): '\(key)' must be a string, found \(field.kindName)")
        }
        return text
    }

    func strings(_ key: String) throws(ConfigError) -> [String]? {
        guard let field = value[key] else { return nil }
        guard let list = field.arrayValue else {
            throw ConfigError("\(place): '\(key)' must be an array of strings, found \(field.kindName)")
        }
        var result: [String] = []
        for element in list {
            guard let text = element.stringValue else {
                throw ConfigError("\(place): '\(key)' must contain only strings, found \(element.kindName)")
            }
            result.append(text)
        }
        return result
    }
}

/// A configuration mistake, with a message that names the field (and never a key).
public struct ConfigError: Error, Equatable, Sendable {
    /// What is wrong and how to fix it.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }
}
