import Foundation
import Translator
import Yams

/// qpilot.yaml, parsed and checked. Every field is documented in docs/configuration.md.
public struct QpilotConfig: Sendable, Equatable {
    /// How Envoy gets module bytes, for every middleware that does not say otherwise.
    public enum Delivery: String, Sendable, Equatable, CaseIterable {
        case inline, file, remote
    }

    /// When a tag or URL is fetched again.
    public enum PullPolicy: String, Sendable, Equatable, CaseIterable {
        /// Fetch once; reuse the stored module after that, across restarts too.
        case IfNotPresent
        /// Fetch on every reconcile, and roll out a new digest when the source changed.
        case Always
    }

    /// One `middleware:` entry, before its module is loaded.
    public struct MiddlewareEntry: Sendable, Equatable {
        public var name: String
        public var source: String
        /// The configuration as JSON.
        public var config: String
        public var failurePolicy: Middleware.FailurePolicy
        public var phase: Middleware.Phase?
        public var priority: Int
        public var fleets: [String]?
        public var delivery: Delivery?
        /// The module's expected sha256, when pinned.
        public var sha256: String?
        public var pullPolicy: PullPolicy
        /// The line of the entry, for errors found later (a missing module file, say).
        public var line: Int?
        /// For an entry from the store: the module its revision was validated with. With
        /// `IfNotPresent`, exactly those bytes are used again, so a revision (and a rollback to
        /// it) always means the same module.
        public var storedSHA256: String? = nil
    }

    public var xdsAddress = HostPort(host: "127.0.0.1", port: 18000)
    public var adminAddress = HostPort(host: "127.0.0.1", port: 18001)
    public var modulesAddress = HostPort(host: "127.0.0.1", port: 18002)
    /// `TOKEN ROLE` lines for the admin API; created with one admin token when absent.
    public var adminTokensFile: String?
    /// Where Envoy reaches the module endpoint, when not at `modulesAddress`.
    public var modulesPublicAddress: HostPort?
    /// The directory shared with Envoy for `delivery: file`.
    public var modulesSharedDir: String?
    /// A docker `config.json` with registry logins.
    public var modulesCredentialsFile: String?
    public var modulesMaxModuleBytes = 256 * 1024 * 1024
    public var modulesMaxDecompressedBytes = 512 * 1024 * 1024
    public var modulesFetchTimeoutSeconds = 60
    /// How often sources with `pullPolicy: Always` are fetched again.
    public var modulesRefreshSeconds = 60
    public var dataDir = "./data"
    public var egressAddress = "127.0.0.1"
    public var egressPort = 10000
    public var egressAccessLog: String?
    public var calloutAccessLog: String? = "/dev/stdout"
    public var delivery = Delivery.inline
    /// Largest ADS message qpilot accepts from Envoy, in bytes.
    public var xdsMaxReceiveBytes = 4 * 1024 * 1024
    public var middleware: [MiddlewareEntry] = []
    /// True when the file has a `middleware:` section (the file is then the source of truth).
    public var hasMiddlewareSection = false

    public init() {}

    /// Parses qpilot.yaml text. Errors name the line and the field.
    public static func parse(_ text: String) throws(ConfigError) -> QpilotConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigError(line: Self.line(of: error), field: "", "not valid YAML: \(Self.problem(of: error))")
        } catch {
            throw ConfigError(line: nil, field: "", "not valid YAML: \(error)")
        }
        var config = QpilotConfig()
        guard let root else { return config }
        let top = try YAMLReader(node: root, path: "").mapping(allowed: [
            "xds", "admin", "modules", "dataDir", "egress", "callout", "delivery", "middleware",
        ])
        if let xds = top["xds"] {
            let fields = try xds.mapping(allowed: ["address", "maxReceiveBytes"])
            if let address = fields["address"] { config.xdsAddress = try address.listenAddress() }
            if let max = fields["maxReceiveBytes"] { config.xdsMaxReceiveBytes = try positive(max) }
        }
        if let admin = top["admin"] {
            let fields = try admin.mapping(allowed: ["address", "tokensFile"])
            if let address = fields["address"] { config.adminAddress = try address.listenAddress() }
            if let file = fields["tokensFile"] { config.adminTokensFile = try nonEmpty(file) }
        }
        if let modules = top["modules"] {
            let fields = try modules.mapping(allowed: [
                "address", "publicAddress", "sharedDir", "credentialsFile", "maxModuleBytes", "maxDecompressedBytes",
                "fetchTimeoutSeconds", "refreshSeconds",
            ])
            if let file = fields["credentialsFile"] { config.modulesCredentialsFile = try nonEmpty(file) }
            if let value = fields["maxModuleBytes"] { config.modulesMaxModuleBytes = try positive(value) }
            if let value = fields["maxDecompressedBytes"] { config.modulesMaxDecompressedBytes = try positive(value) }
            if let value = fields["fetchTimeoutSeconds"] { config.modulesFetchTimeoutSeconds = try positive(value) }
            if let value = fields["refreshSeconds"] { config.modulesRefreshSeconds = try positive(value) }
            if let address = fields["address"] { config.modulesAddress = try address.listenAddress() }
            if let address = fields["publicAddress"] { config.modulesPublicAddress = try address.hostPort() }
            if let dir = fields["sharedDir"] { config.modulesSharedDir = try nonEmpty(dir) }
        }
        if let dataDir = top["dataDir"] { config.dataDir = try nonEmpty(dataDir) }
        if let egress = top["egress"] {
            let fields = try egress.mapping(allowed: ["address", "port", "accessLog"])
            if let address = fields["address"] { config.egressAddress = try nonEmpty(address) }
            if let port = fields["port"] {
                let value = try port.int()
                guard (1...65535).contains(value) else { throw port.error("a port is between 1 and 65535") }
                config.egressPort = value
            }
            if let log = fields["accessLog"] { config.egressAccessLog = log.isNull ? nil : try nonEmpty(log) }
        }
        if let callout = top["callout"] {
            let fields = try callout.mapping(allowed: ["accessLog"])
            if let log = fields["accessLog"] { config.calloutAccessLog = log.isNull ? nil : try nonEmpty(log) }
        }
        if let delivery = top["delivery"] { config.delivery = try delivery.oneOf(Delivery.self) }
        if let middleware = top["middleware"] {
            config.hasMiddlewareSection = true
            if !middleware.isNull {
                var seen: [String: Int?] = [:]
                for item in try middleware.sequence() {
                    let entry = try parseMiddleware(item)
                    if let previous = seen[entry.name] {
                        let at = previous.map { " (first defined on line \($0))" } ?? ""
                        throw ConfigError(line: item.line, field: "\(item.path).name", "duplicate middleware name '\(entry.name)'\(at)")
                    }
                    seen[entry.name] = item.line
                    config.middleware.append(entry)
                }
            }
        }
        if let entry = config.middleware.first(where: { ($0.delivery ?? config.delivery) == .file }), config.modulesSharedDir == nil {
            throw ConfigError(
                line: entry.delivery == .file ? entry.line : top["delivery"]?.line, field: "modules.sharedDir",
                "delivery 'file' needs modules.sharedDir: a directory that Envoy can read")
        }
        return config
    }

    static func parseMiddleware(_ item: YAMLReader) throws(ConfigError) -> MiddlewareEntry {
        let fields = try item.mapping(allowed: [
            "name", "source", "config", "failurePolicy", "phase", "priority", "fleets", "delivery", "sha256", "pullPolicy",
        ])
        guard let nameField = fields["name"] else { throw item.error("a middleware needs a name") }
        let name = try nameField.string()
        if let problem = nameProblem(name) { throw nameField.error(problem) }
        guard let source = fields["source"] else { throw item.error("middleware '\(name)' needs a source (a .wasm path)") }
        var entry = MiddlewareEntry(
            name: name, source: try nonEmpty(source), config: "", failurePolicy: .closed, phase: nil, priority: 0,
            fleets: nil, delivery: nil, sha256: nil, pullPolicy: .IfNotPresent, line: item.line)
        if let config = fields["config"] {
            // A mapping or list reaches the module as JSON; a plain string reaches it as written.
            if case .scalar(let scalar) = config.node, !config.isNull { entry.config = scalar.string } else { entry.config = try config.json() }
        }
        if let policy = fields["failurePolicy"] { entry.failurePolicy = try policy.oneOf(Middleware.FailurePolicy.self) }
        if let phase = fields["phase"] { entry.phase = try phase.oneOf(Middleware.Phase.self) }
        if let priority = fields["priority"] { entry.priority = try priority.int() }
        if let fleets = fields["fleets"] {
            let list = try fleets.strings()
            guard !list.isEmpty else { throw fleets.error("an empty fleet list would apply to no node; omit it for every fleet") }
            entry.fleets = list
        }
        if let delivery = fields["delivery"] { entry.delivery = try delivery.oneOf(Delivery.self) }
        if let digest = fields["sha256"] {
            guard let text = normalizedSHA256(try digest.string()) else { throw digest.error(sha256Problem) }
            entry.sha256 = text
        }
        if let policy = fields["pullPolicy"] { entry.pullPolicy = try policy.oneOf(PullPolicy.self) }
        return entry
    }

    /// Why a middleware name is not acceptable, or nil when it is.
    static func nameProblem(_ name: String) -> String? {
        guard !name.isEmpty, name.count <= 63,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else {
            return "a name is 1-63 letters, digits, '-' or '_'; got '\(name)'"
        }
        return nil
    }

    static let sha256Problem = "a sha256 is 64 hex digits (optionally after 'sha256:')"

    /// `sha256:ABC…` or `abc…` → `abc…`, or nil when it is not 64 hex digits.
    static func normalizedSHA256(_ text: String) -> String? {
        var text = text.lowercased()
        if text.hasPrefix("sha256:") { text = String(text.dropFirst(7)) }
        return text.count == 64 && text.allSatisfy(\.isHexDigit) ? text : nil
    }

    static func nonEmpty(_ reader: YAMLReader) throws(ConfigError) -> String {
        let text = try reader.string()
        guard !text.isEmpty else { throw reader.error("must not be empty") }
        return text
    }

    static func positive(_ reader: YAMLReader) throws(ConfigError) -> Int {
        let value = try reader.int()
        guard value > 0 else { throw reader.error("must be greater than 0") }
        return value
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        case .duplicatedKeysInMapping(_, let context): context.mark.line
        default: nil
        }
    }

    static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): problem
        case .duplicatedKeysInMapping(let duplicates, _): "duplicate keys: \(duplicates.joined(separator: ", "))"
        default: "\(error)"
        }
    }
}
