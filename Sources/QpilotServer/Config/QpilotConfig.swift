import Crypto
import Foundation
import Modules
import Store
import QpilotAPI
import Translator
import YAMLGuard
import Yams

/// qpilot.yaml, parsed and checked: the server's restart-only settings and the desired config a
/// reload applies. Every field is documented in docs/configuration.md.
public struct QpilotConfig: Sendable, Equatable {
    public var server: ServerSettings
    public var desired: DesiredConfig

    /// Defaults for a qpilot.yaml in `directory`.
    public init(directory: URL) {
        server = ServerSettings(directory: directory)
        desired = DesiredConfig()
    }

    /// One read of qpilot.yaml: the parsed file, and a digest of its bytes to tell whether it
    /// changed since.
    public struct Loaded: Sendable {
        public var config: QpilotConfig
        public var fingerprint: String
    }

    /// Reads and parses the file; the one place qpilot.yaml is read. `QPILOT_DATABASE_URL` in
    /// `environment`, when set, is the store's URL (over `store` in the file; `store.passwordFile`
    /// still applies), so that replicas can share one qpilot.yaml and get the database from their
    /// deployment.
    public static func load(
        _ url: URL, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(QpilotError) -> Loaded {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw QpilotError(line: nil, field: "", "cannot read \(url.path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw QpilotError(line: nil, field: "", "\(url.path) is not UTF-8 text")
        }
        var config = try parse(text, directory: url.deletingLastPathComponent())
        if let databaseURL = environment["QPILOT_DATABASE_URL"], !databaseURL.isEmpty {
            do {
                _ = try PostgresLocation(url: databaseURL)
            } catch {
                throw QpilotError(line: nil, field: "QPILOT_DATABASE_URL", "\(error)")
            }
            config.server.store = ServerSettings.Store(url: databaseURL, passwordFile: config.server.store?.passwordFile)
        }
        return Loaded(config: config, fingerprint: fingerprint(data))
    }

    /// A digest of every byte: Data.hashValue looks only at a prefix, and would miss an edit.
    public static func fingerprint(_ data: Data) -> String {
        LoadedModule.hex(SHA256.hash(data: data))
    }

    /// Parses qpilot.yaml text; relative paths are resolved against `directory`. Errors name the
    /// line and the field.
    public static func parse(_ text: String, directory: URL = URL(fileURLWithPath: "/")) throws(QpilotError) -> QpilotConfig {
        let root: Node?
        do {
            root = try YAMLGuard.compose(text)
        } catch let error as YAMLGuard.TooLarge {
            throw QpilotError(line: nil, field: "", "not valid here: \(error)")
        } catch let error as YamlError {
            throw QpilotError(line: Self.line(of: error), field: "", "not valid YAML: \(Self.problem(of: error))")
        } catch {
            throw QpilotError(line: nil, field: "", "not valid YAML: \(error)")
        }
        var config = QpilotConfig(directory: directory)
        guard let root else { return config }
        let top = try YAMLReader(node: root, path: "").mapping(allowed: [
            "xds", "admin", "modules", "dataDir", "store", "egress", "callout", "delivery", "middleware", "tls",
        ])
        func path(_ reader: YAMLReader) throws(QpilotError) -> URL { Paths.resolve(try nonEmpty(reader), in: directory) }
        var server = config.server
        if let dataDir = top["dataDir"] { server.dataDir = try path(dataDir) }
        if let store = top["store"], !store.isNull { server.store = try storeSettings(store, path: path) }
        if let xds = top["xds"] {
            let fields = try xds.mapping(allowed: ["address", "maxReceiveBytes", "tls", "serverNames", "certificateLifetimeSeconds"])
            if let address = fields["address"] { server.xds.address = try address.listenAddress() }
            if let max = fields["maxReceiveBytes"] { server.xds.maxReceiveBytes = try positive(max) }
            if let tls = fields["tls"] { server.xds.tls = try tls.bool() }
            if let names = fields["serverNames"], !names.isNull {
                for item in try names.sequence() {
                    let name = try item.string()
                    guard !name.isEmpty, name.count <= 253, name.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "/" }) else {
                        throw item.error("a server name is a DNS name or an IP address, such as qpilot.example.com or 10.0.0.5")
                    }
                    server.xds.serverNames.append(name)
                }
                guard server.xds.serverNames.count <= 100 else { throw names.error("at most 100 server names") }
            }
            if let value = fields["certificateLifetimeSeconds"] {
                let seconds = try value.int()
                guard (60...30 * 86400).contains(seconds) else {
                    throw value.error("a certificate lifetime is between 60 seconds and 30 days (2592000); got \(seconds)")
                }
                server.xds.certificateLifetimeSeconds = seconds
            }
        }
        if let admin = top["admin"] {
            let fields = try admin.mapping(allowed: ["address", "tokensFile"])
            if let address = fields["address"] { server.admin.address = try address.listenAddress() }
            if let file = fields["tokensFile"] { server.admin.tokensFile = try path(file) }
        }
        if let modules = top["modules"] {
            let fields = try modules.mapping(allowed: [
                "address", "publicAddress", "sharedDir", "credentialsFile", "maxModuleBytes", "maxDecompressedBytes",
                "inlineMaxBytes", "fetchTimeoutSeconds", "refreshSeconds", "allowPrivate", "sourceDirs",
            ])
            if let dirs = fields["sourceDirs"], !dirs.isNull {
                server.modules.sourceDirs = []
                for item in try dirs.sequence() { server.modules.sourceDirs.append(try path(item)) }
            }
            if let allow = fields["allowPrivate"], !allow.isNull {
                server.modules.allowPrivate = []
                for item in try allow.sequence() {
                    let entry = try item.string()
                    if let problem = FetchLimits.problem(allowPrivate: entry) { throw item.error(problem) }
                    server.modules.allowPrivate.append(entry)
                }
            }
            if let file = fields["credentialsFile"] { server.modules.credentialsFile = try path(file) }
            if let value = fields["maxModuleBytes"] { server.modules.maxModuleBytes = try positive(value) }
            if let value = fields["maxDecompressedBytes"] { server.modules.maxDecompressedBytes = try positive(value) }
            if let value = fields["inlineMaxBytes"] { server.modules.inlineMaxBytes = try positive(value) }
            if let value = fields["fetchTimeoutSeconds"] { server.modules.fetchTimeoutSeconds = try positive(value) }
            if let value = fields["refreshSeconds"] { server.modules.refreshSeconds = try positive(value) }
            if let address = fields["address"] { server.modules.address = try address.listenAddress() }
            if let address = fields["publicAddress"] { server.modules.publicAddress = try address.hostPort() }
            if let dir = fields["sharedDir"] { server.modules.sharedDir = try path(dir) }
        }
        var desired = config.desired
        if let tls = top["tls"] {
            let fields = try tls.mapping(allowed: [
                "caCertFile", "caKeyFile", "leafLifetimeSeconds", "intercept", "originate", "upstreamCA",
            ])
            if let value = fields["leafLifetimeSeconds"] {
                let seconds = try value.int()
                guard (10...86400).contains(seconds) else {
                    throw value.error("a certificate lifetime is between 10 and 86400 seconds (24 hours); got \(seconds)")
                }
                server.tls.leafLifetimeSeconds = seconds
            }
            desired.tls.intercept = try parseHosts(fields["intercept"])
            desired.interceptFromFile = fields["intercept"] != nil
            desired.tls.originate = try parseHosts(fields["originate"])
            if let file = fields["upstreamCA"], !file.isNull {
                desired.tls.upstreamCA = try UpstreamRoots.read(try path(file), field: file)
            }
            if let file = fields["caCertFile"] { server.tls.caCertFile = try path(file) }
            if let file = fields["caKeyFile"] { server.tls.caKeyFile = try path(file) }
            if let given = fields["caCertFile"], fields["caKeyFile"] == nil {
                throw given.error("give tls.caKeyFile too (the key of your CA), or neither: qpilot then makes its own CA in <dataDir>/ca/")
            }
            if let given = fields["caKeyFile"], fields["caCertFile"] == nil {
                throw given.error("give tls.caCertFile too (your CA's certificate), or neither: qpilot then makes its own CA in <dataDir>/ca/")
            }
        }
        config.server = server
        if let egress = top["egress"] {
            let fields = try egress.mapping(allowed: ["address", "port", "accessLog", "allowInternal"])
            if let address = fields["address"] {
                let host = try nonEmpty(address)
                // Envoy takes only an IP here; a hostname would be published and NACKed by every node.
                guard HostPort(host: host, port: 0).isIPLiteral else {
                    throw address.error("the egress listener binds an IP address, such as 127.0.0.1 or 0.0.0.0; got '\(host)'")
                }
                desired.egress.address = host
            }
            if let port = fields["port"] {
                let value = try port.int()
                guard (1...65535).contains(value) else { throw port.error("a port is between 1 and 65535") }
                desired.egress.port = value
            }
            if let log = fields["accessLog"] { desired.egress.accessLog = log.isNull ? nil : try path(log).path }
            if let allow = fields["allowInternal"], !allow.isNull {
                desired.egress.allowInternal = []
                for item in try allow.sequence() {
                    let text = try item.string()
                    do throws(InternalDestinationError) {
                        desired.egress.allowInternal.append(try InternalDestination(parsing: text))
                    } catch {
                        throw item.error(error.description)
                    }
                }
            }
        }
        if let callout = top["callout"] {
            let fields = try callout.mapping(allowed: ["accessLog"])
            if let log = fields["accessLog"] { desired.callout.accessLog = log.isNull ? nil : try path(log).path }
        }
        if let delivery = top["delivery"] { desired.delivery = try delivery.oneOf(Delivery.self) }
        if let middleware = top["middleware"] {
            var entries: [ChainEntry] = []
            if !middleware.isNull {
                var seen: [String: Int?] = [:]
                for (index, item) in try middleware.sequence().enumerated() {
                    let entry = try parseMiddleware(item, index: index)
                    if let previous = seen[entry.name] {
                        let at = previous.map { " (first defined on line \($0))" } ?? ""
                        throw QpilotError(line: item.line, field: "\(item.path).name", "duplicate middleware name '\(entry.name)'\(at)")
                    }
                    seen[entry.name] = item.line
                    entries.append(entry)
                }
            }
            desired.middleware = entries
        }
        config.desired = desired
        if let entry = desired.middleware?.first(where: { ($0.delivery ?? desired.delivery) == .file }), server.modules.sharedDir == nil {
            throw QpilotError(
                line: entry.delivery == .file ? entry.place.line : top["delivery"]?.line, field: "modules.sharedDir",
                "delivery 'file' needs modules.sharedDir: a directory that Envoy can read")
        }
        return config
    }

    static func parseMiddleware(_ item: YAMLReader, index: Int) throws(QpilotError) -> ChainEntry {
        let fields = try item.mapping(allowed: [
            "name", "source", "config", "failurePolicy", "phase", "priority", "fleets", "delivery", "sha256", "pullPolicy",
        ])
        guard let nameField = fields["name"] else { throw item.error("a middleware needs a name") }
        let name = try nameField.string()
        if let problem = MiddlewareRules.nameProblem(name) { throw nameField.error(problem) }
        guard let source = fields["source"] else { throw item.error("middleware '\(name)' needs a source (a .wasm path)") }
        var entry = ChainEntry(
            name: name, source: try nonEmpty(source),
            place: .init(index: index, line: item.line, sourceLine: source.line, sha256Line: fields["sha256"]?.line))
        if let config = fields["config"] {
            // A mapping or list reaches the module as JSON; a plain string reaches it as written.
            if case .scalar(let scalar) = config.node, !config.isNull { entry.config = scalar.string } else { entry.config = try config.json() }
        }
        if let policy = fields["failurePolicy"] { entry.failurePolicy = try policy.oneOf(FailurePolicy.self) }
        if let phase = fields["phase"] { entry.phase = try phase.oneOf(Phase.self) }
        if let priority = fields["priority"] { entry.priority = try priority.int() }
        if let fleets = fields["fleets"] {
            let list = try fleets.strings()
            if let problem = MiddlewareRules.fleetsProblem(list) { throw fleets.error(problem) }
            entry.fleets = list
        }
        if let delivery = fields["delivery"] { entry.delivery = try delivery.oneOf(Delivery.self) }
        if let digest = fields["sha256"] {
            guard let text = MiddlewareRules.normalizedSHA256(try digest.string()) else {
                throw digest.error(MiddlewareRules.sha256Problem)
            }
            entry.sha256 = text
        }
        if let policy = fields["pullPolicy"] { entry.pullPolicy = try policy.oneOf(PullPolicy.self) }
        return entry
    }

    /// `tls.intercept` or `tls.originate`: at most 1,000 entries.
    static func parseHosts(_ list: YAMLReader?) throws(QpilotError) -> [DesiredState.Intercept] {
        guard let list, !list.isNull else { return [] }
        let items = try list.sequence()
        guard items.count <= 1000 else {
            throw list.error("\(items.count) entries; at most 1000 (a '*.domain' wildcard covers many names)")
        }
        var entries: [DesiredState.Intercept] = []
        for item in items { entries.append(try parseIntercept(item)) }
        return entries
    }

    /// `- api.example.com` (every fleet) or `- {host: api.example.com, fleets: [payments]}`.
    static func parseIntercept(_ item: YAMLReader) throws(QpilotError) -> DesiredState.Intercept {
        func host(_ reader: YAMLReader) throws(QpilotError) -> HostPattern {
            let text = try reader.string()
            do throws(HostPatternError) { return try HostPattern(parsing: text) } catch { throw reader.error(error.description) }
        }
        guard case .mapping = item.node else { return DesiredState.Intercept(host: try host(item)) }
        let fields = try item.mapping(allowed: ["host", "fleets"])
        guard let hostField = fields["host"] else { throw item.error("an intercepted entry needs a host (a name or '*.domain')") }
        var entry = DesiredState.Intercept(host: try host(hostField))
        if let fleets = fields["fleets"] {
            let list = try fleets.strings()
            if let problem = MiddlewareRules.fleetsProblem(list) { throw fleets.error(problem) }
            entry.fleets = list
        }
        return entry
    }

    /// `store: postgres://…`, or `store: {url: postgres://…, passwordFile: FILE}`. The URL is
    /// checked here, so a mistake is reported with its line, not at the first connection.
    static func storeSettings(
        _ reader: YAMLReader, path: (YAMLReader) throws(QpilotError) -> URL
    ) throws(QpilotError) -> ServerSettings.Store {
        let urlReader: YAMLReader
        var passwordFile: URL?
        if case .mapping = reader.node {
            let fields = try reader.mapping(allowed: ["url", "passwordFile"])
            guard let url = fields["url"] else {
                throw reader.error("give store.url, such as postgres://qpilot@db.internal:5432/qpilot")
            }
            urlReader = url
            if let file = fields["passwordFile"] { passwordFile = try path(file) }
        } else {
            urlReader = reader
        }
        let url = try nonEmpty(urlReader)
        do {
            _ = try PostgresLocation(url: url)
        } catch {
            throw urlReader.error("\(error)")
        }
        return ServerSettings.Store(url: url, passwordFile: passwordFile)
    }

    static func nonEmpty(_ reader: YAMLReader) throws(QpilotError) -> String {
        let text = try reader.string()
        guard !text.isEmpty else { throw reader.error("must not be empty") }
        return text
    }

    static func positive(_ reader: YAMLReader) throws(QpilotError) -> Int {
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
