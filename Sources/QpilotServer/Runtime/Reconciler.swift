import AdminServer
import Crypto
import Foundation
import Logging
import Modules
import QpilotAPI
import Store
import Synchronization
import Translator
import XDS

/// Turns desired state into published snapshots, and keeps the last good config when a new one
/// is bad: a reload or a write that fails changes nothing that Envoy sees.
///
/// Desired middleware come from qpilot.yaml when it has a `middleware:` section (file mode), else
/// from the store's head revision (store mode, written through the admin API). Server settings
/// always come from qpilot.yaml.
public actor Reconciler {
    /// Where desired middleware come from.
    public enum Mode: String, Sendable {
        case file, store
    }

    /// The outcome of the latest reload, for logs, readiness and tests.
    public struct Status: Sendable, Equatable {
        public var published = false
        public var generation = 0
        public var lastError: String?
        public var middleware: [String] = []
        public var mode = Mode.store
        /// The store revision published last; 0 in file mode or before the first write.
        public var revision = 0
    }

    public nonisolated let configURL: URL
    let cache: SnapshotCache
    public nonisolated let store: ModuleStore
    /// Desired state, history and secrets.
    public nonisolated let state: any StateStore
    let logger: Logger
    /// Server settings from the first load; later loads may change only desired state.
    let settings: QpilotConfig
    let modules: ModuleResolver
    private nonisolated let status = Mutex(Status())
    private var lastFingerprint: String?
    /// True when some middleware has `pullPolicy: Always`, so reconciles repeat on a timer.
    public private(set) var needsRefresh = false

    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []
    /// The config published last (server settings from it; desired state in file mode).
    var current: QpilotConfig
    /// What each fleet key (a fleet, or `*` for the fallback) received at the last publish, per
    /// type, for rollout records.
    var publishedVersions: [String: [String: String]] = [:]

    public init(
        configURL: URL, settings: QpilotConfig, cache: SnapshotCache, logger: Logger, state: (any StateStore)? = nil
    ) throws {
        self.configURL = configURL
        self.settings = settings
        self.current = settings
        self.cache = cache
        self.logger = logger
        let dataDirectory = Self.resolve(settings.dataDir, against: configURL)
        // The store and the secrets key live here: only qpilot's user may list or enter it.
        if !FileManager.default.fileExists(atPath: dataDirectory.path) {
            try FileManager.default.createDirectory(
                at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let store = try ModuleStore(dataDirectory: dataDirectory)
        self.store = store
        self.state = try state ?? SQLiteStateStore(directory: dataDirectory)
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

    /// Reads, checks and publishes the config file (and in store mode the head revision). On
    /// failure the running config stays and the error is returned (and logged).
    @discardableResult
    public func reload() async -> Result<Void, ConfigError> {
        await exclusively { () async -> Result<Void, ConfigError> in await self.reloadNow() }
    }

    /// An actor runs another call whenever one awaits, so two writes could both read head N and
    /// race to commit N+1 (one would fail as stale though nobody asked for If-Match). Reloads and
    /// writes therefore take turns, in arrival order.
    func exclusively<T, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        if busy {
            await withCheckedContinuation { waiting.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
        }
        return try await body()
    }

    func reloadNow() async -> Result<Void, ConfigError> {
        do throws(ConfigError) {
            let text = try Self.read(configURL)
            lastFingerprint = Self.fingerprint(Data(text.utf8))
            let config = try QpilotConfig.parse(text)
            warnAboutServerSettings(config)
            let mode: Mode = config.hasMiddlewareSection ? .file : .store
            var entries = config.middleware
            var head: Revision?
            if mode == .store {
                head = try await headRevision()
                if head == nil, status.withLock({ $0.mode == .file && $0.published }), current.hasMiddlewareSection {
                    head = try await importFileChain()
                }
                if let head {
                    for (index, spec) in head.middleware.enumerated() where spec.isEnabled {
                        do {
                            entries.append(try spec.entry(at: index))
                        } catch {
                            throw ConfigError(line: nil, field: "revision \(head.number)", error.message)
                        }
                    }
                }
            }
            let built: Built
            do {
                built = try await build(config, entries)
            } catch {
                let origin = mode == .file ? "" : "revision \(head?.number ?? 0): "
                throw ConfigError(line: error.line, field: error.field, origin + error.message)
            }
            await publish(built, config: config, mode: mode, revision: head?.number)
            return .success(())
        } catch {
            status.withLock { $0.lastError = error.description }
            logger.error("config refused; the running config stays", metadata: ["file": "\(configURL.path)", "error": "\(error)"])
            return .failure(error)
        }
    }

    /// qpilot.yaml lost its `middleware:` section while the store is empty: the chain the file
    /// had becomes revision 1, so switching to the API does not leave Envoy without middleware.
    func importFileChain() async throws(ConfigError) -> Revision {
        do {
            let revision = try await state.commit(
                middleware: current.middleware.map(Self.spec), author: "qpilot", action: "import from qpilot.yaml", expected: 0)
            logger.notice(
                "qpilot.yaml has no middleware section now; its last chain is revision 1 of the store",
                metadata: ["middleware": "\(revision.middleware.map(\.name))"])
            return revision
        } catch {
            throw ConfigError(line: nil, field: "", "cannot import the file's middleware into the store: \(error)")
        }
    }

    func headRevision() async throws(ConfigError) -> Revision? {
        do {
            return try await state.head()
        } catch {
            throw ConfigError(line: nil, field: "", "cannot read the store: \(error)")
        }
    }

    /// Snapshots ready to publish, and what they were built from.
    struct Built: Sendable {
        /// Checked for consistency, so publishing cannot fail.
        var snapshots: SnapshotCache.Checked
        var state: DesiredState
        /// Some middleware has `pullPolicy: Always`.
        var refresh: Bool
    }

    /// Loads every module, resolves secrets, translates and checks; publishes nothing.
    func build(_ config: QpilotConfig, _ entries: [QpilotConfig.MiddlewareEntry]) async throws(ConfigError) -> Built {
        let secrets: [String: String]
        if entries.contains(where: { $0.config.contains(SecretReferences.prefix) }) {
            do {
                secrets = try await state.secretValues()
            } catch {
                throw ConfigError(line: nil, field: "", "cannot read secrets: \(error)")
            }
        } else {
            secrets = [:]
        }
        let state = try await desiredState(config, entries, secrets: secrets)
        let fallback = try snapshot(Translator.translate(state, fleet: nil))
        var byFleet: [String: Snapshot] = [:]
        for fleet in state.namedFleets { byFleet[fleet] = try snapshot(Translator.translate(state, fleet: fleet)) }
        let snapshots: SnapshotCache.Checked
        do {
            snapshots = try SnapshotCache.check(byFleet: byFleet, fallback: fallback)
        } catch {
            throw ConfigError(line: nil, field: "", "the generated Envoy config is not consistent: \(error)")
        }
        return Built(snapshots: snapshots, state: state, refresh: entries.contains { $0.pullPolicy == .Always })
    }

    /// Publishes built (and so already checked) snapshots, and records what each fleet now receives.
    func publish(_ built: Built, config: QpilotConfig, mode: Mode, revision: Int?) async {
        cache.publish(built.snapshots)
        current = config
        needsRefresh = built.refresh
        var versions: [String: [String: String]] = ["*": built.snapshots.fallback.versionsOfNonEmptyTypes]
        for (fleet, snapshot) in built.snapshots.byFleet { versions[fleet] = snapshot.versionsOfNonEmptyTypes }
        let changed = Set(versions.keys).union(publishedVersions.keys).filter { versions[$0] != publishedVersions[$0] }
        publishedVersions = versions
        if let revision {
            await recordRollout(
                RolloutRecord(publishedAt: Date(), versions: versions, changedFleets: changed.sorted()), revision: revision,
                replace: !changed.isEmpty)
        }
        var keep = Set(built.state.middleware.map(\.sha256))
        if mode == .store { keep.formUnion(await recentRevisionModules()) }
        collectGarbage(keeping: keep)
        let names = Translator.orderedChain(built.state.middleware).map(\.name)
        status.withLock {
            $0.published = true
            $0.generation += 1
            $0.lastError = nil
            $0.middleware = names
            $0.mode = mode
            $0.revision = revision ?? 0
        }
        logger.info(
            "config published",
            metadata: [
                "middleware": "\(names.joined(separator: ","))", "fleets": "\(built.snapshots.byFleet.keys.sorted())", "mode": "\(mode)",
                "revision": "\(revision ?? 0)",
            ])
    }

    /// Modules of the latest revisions, kept so that a rollback needs no fetch.
    func recentRevisionModules() async -> Set<String> {
        let revisions = (try? await state.revisions(limit: Self.revisionsKeptForRollback, before: nil)) ?? []
        return Set(revisions.flatMap { $0.middleware.compactMap(\.resolvedSHA256) })
    }

    static let revisionsKeptForRollback = 10

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

    func desiredState(
        _ config: QpilotConfig, _ entries: [QpilotConfig.MiddlewareEntry], secrets: [String: String]
    ) async throws(ConfigError) -> DesiredState {
        let base = configURL.deletingLastPathComponent()
        var middleware: [Middleware] = []
        for (index, entry) in entries.enumerated() {
            let module: LoadedModule
            do {
                if let stored = entry.storedSHA256, entry.pullPolicy == .IfNotPresent, let bytes = store.get(stored) {
                    module = try LoadedModule(bytes: bytes, origin: entry.source)
                } else {
                    let source = try ModuleSource(parsing: entry.source, relativeTo: base)
                    // A stored revision names its exact module; `Always` follows the source instead.
                    let pin = entry.pullPolicy == .IfNotPresent ? entry.sha256 ?? entry.storedSHA256 : entry.sha256
                    module = try await modules.module(source, sha256: pin, policy: entry.pullPolicy)
                }
            } catch {
                let field = error.message.contains("sha256") && entry.sha256 != nil ? "sha256" : "source"
                throw ConfigError(line: entry.line, field: "middleware[\(index)].\(field)", error.description)
            }
            let configuration: String
            do {
                configuration = try SecretReferences.resolve(entry.config, secrets: secrets)
            } catch {
                throw ConfigError(
                    line: entry.line, field: "middleware[\(index)].config",
                    "refers to secret '\(error.name)', which is not set; set it with `qctl secret set \(error.name) --from-file FILE`")
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
                    name: entry.name, sha256: module.sha256, delivery: delivery, configuration: configuration,
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
