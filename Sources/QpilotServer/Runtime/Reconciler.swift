import Crypto
import Foundation
import Logging
import Modules
import Synchronization
import Translator
import XDS

/// Turns qpilot.yaml into published snapshots, and keeps the last good config when a new one is
/// bad: a reload that fails changes nothing that Envoy sees.
public actor Reconciler {
    /// The outcome of the latest reload, for logs, readiness and tests.
    public struct Status: Sendable, Equatable {
        public var published = false
        public var generation = 0
        public var lastError: String?
        public var middleware: [String] = []
    }

    public nonisolated let configURL: URL
    let cache: SnapshotCache
    public nonisolated let store: ModuleStore
    let logger: Logger
    /// Server settings from the first load; later loads may change only desired state.
    let settings: QpilotConfig
    let modules: ModuleResolver
    private nonisolated let status = Mutex(Status())
    private var lastFingerprint: String?
    /// True when some middleware has `pullPolicy: Always`, so reconciles repeat on a timer.
    public private(set) var needsRefresh = false

    public init(configURL: URL, settings: QpilotConfig, cache: SnapshotCache, logger: Logger) throws {
        self.configURL = configURL
        self.settings = settings
        self.cache = cache
        self.logger = logger
        let store = try ModuleStore(dataDirectory: Self.resolve(settings.dataDir, against: configURL))
        self.store = store
        var credentials = RegistryCredentials()
        if let file = settings.modulesCredentialsFile {
            credentials = try RegistryCredentials.dockerConfig(at: Self.resolve(file, against: configURL))
        }
        let limits = FetchLimits(
            maxModuleBytes: settings.modulesMaxModuleBytes, maxDecompressedBytes: settings.modulesMaxDecompressedBytes,
            timeout: .seconds(settings.modulesFetchTimeoutSeconds))
        modules = ModuleResolver(fetcher: ModuleFetcher(limits: limits, credentials: credentials), store: store, logger: logger)
    }

    public nonisolated var currentStatus: Status { status.withLock { $0 } }

    /// Reads, checks and publishes the config file. On failure the running config stays and the
    /// error is returned (and logged).
    @discardableResult
    public func reload() async -> Result<Void, ConfigError> {
        do throws(ConfigError) {
            let text = try Self.read(configURL)
            lastFingerprint = Self.fingerprint(Data(text.utf8))
            let config = try QpilotConfig.parse(text)
            warnAboutServerSettings(config)
            needsRefresh = config.middleware.contains { $0.pullPolicy == .Always }
            let state = try await desiredState(config)
            let fallback = try snapshot(Translator.translate(state, fleet: nil))
            var byFleet: [String: Snapshot] = [:]
            for fleet in state.namedFleets { byFleet[fleet] = try snapshot(Translator.translate(state, fleet: fleet)) }
            do {
                try cache.publish(byFleet: byFleet, fallback: fallback)
            } catch {
                throw ConfigError(line: nil, field: "", "the generated Envoy config is not consistent: \(error)")
            }
            collectGarbage(keeping: Set(state.middleware.map(\.sha256)))
            let names = Translator.orderedChain(state.middleware).map(\.name)
            status.withLock {
                $0.published = true
                $0.generation += 1
                $0.lastError = nil
                $0.middleware = names
            }
            logger.info(
                "config published",
                metadata: ["middleware": "\(names.joined(separator: ","))", "fleets": "\(byFleet.keys.sorted())"])
            return .success(())
        } catch {
            status.withLock { $0.lastError = error.description }
            logger.error("config refused; the running config stays", metadata: ["file": "\(configURL.path)", "error": "\(error)"])
            return .failure(error)
        }
    }

    /// Module sets of the latest published generations. A module stays stored while any of them
    /// refers to it: an Envoy that NACKed a change still runs the previous one, and may need to
    /// fetch it again (remote delivery) after a restart.
    private var recentModules: [Set<String>] = []
    static let generationsKept = 5

    func collectGarbage(keeping current: Set<String>) {
        // A reload that changes no module (a SIGHUP, a refresh) is not a new generation here.
        if recentModules.last != current { recentModules.append(current) }
        if recentModules.count > Self.generationsKept { recentModules.removeFirst() }
        let removed = store.collectGarbage(keeping: recentModules.reduce(into: Set<String>()) { $0.formUnion($1) })
        if !removed.isEmpty {
            logger.info("removed modules no longer referenced", metadata: ["sha256": "\(removed)"])
        }
    }

    /// Reloads when the file's bytes changed since the last load.
    public func reloadIfChanged() async {
        guard let data = FileManager.default.contents(atPath: configURL.path) else { return }
        if Self.fingerprint(data) != lastFingerprint { await reload() }
    }

    /// A digest of every byte: Data.hashValue looks only at a prefix, and would miss an edit.
    static func fingerprint(_ data: Data) -> String {
        LoadedModule.hex(SHA256.hash(data: data))
    }

    func desiredState(_ config: QpilotConfig) async throws(ConfigError) -> DesiredState {
        let base = configURL.deletingLastPathComponent()
        var middleware: [Middleware] = []
        for (index, entry) in config.middleware.enumerated() {
            let module: LoadedModule
            do {
                let source = try ModuleSource(parsing: entry.source, relativeTo: base)
                module = try await modules.module(source, sha256: entry.sha256, policy: entry.pullPolicy)
            } catch {
                let field = error.message.contains("sha256") && entry.sha256 != nil ? "sha256" : "source"
                throw ConfigError(line: entry.line, field: "middleware[\(index)].\(field)", error.description)
            }
            let delivery: Middleware.Delivery
            switch entry.delivery ?? config.delivery {
            case .inline:
                delivery = .inline(module.bytes)
            case .remote:
                delivery = .remote
            case .file:
                let dir = Self.resolve(settings.modulesSharedDir ?? config.modulesSharedDir ?? "", against: configURL)
                let target = dir.appendingPathComponent("\(module.sha256).wasm")
                do {
                    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                    if !FileManager.default.fileExists(atPath: target.path) {
                        try ModuleStore.writeAtomically(module.bytes, to: target)
                    }
                } catch {
                    throw ConfigError(line: entry.line, field: "middleware[\(index)].delivery", "cannot write the module for Envoy: \(error)")
                }
                delivery = .file(path: target.path)
            }
            middleware.append(
                Middleware(
                    name: entry.name, sha256: module.sha256, delivery: delivery, configuration: entry.config,
                    failurePolicy: entry.failurePolicy, phase: entry.phase, priority: entry.priority, fleets: entry.fleets))
        }
        let endpoint = settings.modulesPublicAddress ?? settings.modulesAddress
        return DesiredState(
            egress: .init(
                address: config.egressAddress, port: config.egressPort,
                accessLog: config.egressAccessLog.map { Self.resolve($0, against: configURL).path }),
            callout: .init(accessLog: config.calloutAccessLog.map { Self.resolve($0, against: configURL).path }),
            moduleEndpoint: .init(host: endpoint.host, port: endpoint.port),
            middleware: middleware)
    }

    func snapshot(_ resources: EnvoyResources) throws(ConfigError) -> Snapshot {
        do {
            return try SnapshotBuilder.snapshot(resources)
        } catch {
            throw ConfigError(line: nil, field: "", "cannot build the Envoy config: \(error)")
        }
    }

    func warnAboutServerSettings(_ config: QpilotConfig) {
        var changed: [String] = []
        if config.xdsAddress != settings.xdsAddress { changed.append("xds.address") }
        if config.xdsMaxReceiveBytes != settings.xdsMaxReceiveBytes { changed.append("xds.maxReceiveBytes") }
        if config.adminAddress != settings.adminAddress { changed.append("admin.address") }
        if config.modulesAddress != settings.modulesAddress { changed.append("modules.address") }
        if config.modulesPublicAddress != settings.modulesPublicAddress { changed.append("modules.publicAddress") }
        if config.modulesSharedDir != settings.modulesSharedDir { changed.append("modules.sharedDir") }
        if config.dataDir != settings.dataDir { changed.append("dataDir") }
        if config.adminTokensFile != settings.adminTokensFile { changed.append("admin.tokensFile") }
        if config.modulesCredentialsFile != settings.modulesCredentialsFile { changed.append("modules.credentialsFile") }
        if config.modulesMaxModuleBytes != settings.modulesMaxModuleBytes { changed.append("modules.maxModuleBytes") }
        if config.modulesMaxDecompressedBytes != settings.modulesMaxDecompressedBytes {
            changed.append("modules.maxDecompressedBytes")
        }
        if config.modulesFetchTimeoutSeconds != settings.modulesFetchTimeoutSeconds { changed.append("modules.fetchTimeoutSeconds") }
        if config.modulesRefreshSeconds != settings.modulesRefreshSeconds { changed.append("modules.refreshSeconds") }
        if !changed.isEmpty {
            logger.warning(
                "these settings change only when qpilot restarts; the running values stay until then",
                metadata: ["fields": "\(changed.joined(separator: ", "))"])
        }
    }

    static func read(_ url: URL) throws(ConfigError) -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ConfigError(line: nil, field: "", "cannot read \(url.path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(line: nil, field: "", "\(url.path) is not UTF-8 text")
        }
        return text
    }

    /// Resolves a path from qpilot.yaml against the file's own directory.
    public static func resolve(_ path: String, against configURL: URL) -> URL {
        path.hasPrefix("/")
            ? URL(fileURLWithPath: path)
            : configURL.deletingLastPathComponent().appendingPathComponent(path).standardizedFileURL
    }
}
