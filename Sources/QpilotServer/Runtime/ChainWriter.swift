import Foundation
import Logging
import Modules
import QpilotAPI
import Store
import Synchronization
import XDS

/// The one writer: every change to what Envoy sees (a reload of qpilot.yaml, an admin write, a
/// secret that a middleware uses) goes through it, one at a time, and either commits and
/// publishes whole or changes nothing.
///
/// The chain comes from qpilot.yaml when it has a `middleware:` section (file mode), else from
/// the store's head revision (store mode). Server settings come from the first load only.
public actor ChainWriter {
    /// The outcome of the latest publish or refusal, for logs, readiness and tests.
    public struct Status: Sendable, Equatable {
        public var published = false
        public var generation = 0
        public var lastError: String?
        /// Middleware names in chain order.
        public var middleware: [String] = []
        public var mode = ChainMode.store
        /// The store revision published last; 0 in file mode or before the first write.
        public var revision = 0
    }

    /// What a write did.
    public struct Committed: Sendable, Equatable {
        public var revision: Int
        /// False when the write changed nothing: no revision was made.
        public var changed: Bool
        /// The write created the middleware it names.
        public var created: Bool
    }

    public nonisolated let configURL: URL
    /// Settings from the first load; later loads change only desired state.
    public nonisolated let server: ServerSettings
    let cache: SnapshotCache
    let store: any StateStore
    let modules: ModuleResolver
    let moduleStore: ModuleStore
    let logger: Logger

    nonisolated let state: Mutex<(status: Status, desired: DesiredConfig)>
    private var fingerprint: String?
    /// Some middleware has `pullPolicy: Always`, so reconciles repeat on a timer.
    public internal(set) var needsRefresh = false
    /// What each fleet key received at the last publish, for rollout records.
    var publishedVersions: [FleetKey: ConfigVersions] = [:]
    /// Module sets of the latest published generations (see `collectGarbage`).
    var recentModules: [Set<String>] = []
    var busy = false
    var waiting: [CheckedContinuation<Void, Never>] = []

    init(
        configURL: URL, loaded: QpilotConfig, cache: SnapshotCache, store: any StateStore, modules: ModuleResolver,
        moduleStore: ModuleStore, logger: Logger
    ) {
        self.configURL = configURL
        self.server = loaded.server
        self.cache = cache
        self.store = store
        self.modules = modules
        self.moduleStore = moduleStore
        self.logger = logger
        state = Mutex((Status(), loaded.desired))
    }

    public nonisolated var status: Status { state.withLock { $0.status } }

    /// The desired config published last (file mode: with its chain).
    nonisolated var desired: DesiredConfig { state.withLock { $0.desired } }

    /// The chain as the admin API shows it: the head revision, or in file mode qpilot.yaml's.
    nonisolated func chain() async throws(QpilotError) -> MiddlewareList {
        let desired = desired
        if let entries = desired.middleware { return MiddlewareList(mode: .file, revision: 0, middleware: entries.map(\.spec)) }
        let head = try await head()
        return MiddlewareList(mode: .store, revision: head?.number ?? 0, middleware: head?.middleware ?? [])
    }

    nonisolated func head() async throws(QpilotError) -> Revision? {
        do {
            return try await store.head()
        } catch {
            throw .store("cannot read the store", error)
        }
    }

    // MARK: Reloads

    /// Reads, checks and publishes qpilot.yaml (and in store mode the head revision). On failure
    /// the running config stays, and the error is returned and logged.
    @discardableResult
    public func reload() async -> Result<Void, QpilotError> {
        await takingTurns { () async -> Result<Void, QpilotError> in await self.reloadNow() }
    }

    /// Reloads when the file's bytes changed since the last load.
    public func reloadIfChanged() async {
        guard let data = FileManager.default.contents(atPath: configURL.path) else { return }
        if QpilotConfig.fingerprint(data) != fingerprint { await reload() }
    }

    func reloadNow() async -> Result<Void, QpilotError> {
        do throws(QpilotError) {
            let loaded = try QpilotConfig.load(configURL)
            fingerprint = loaded.fingerprint
            let config = loaded.config
            let changed = config.server.changed(from: server)
            if !changed.isEmpty {
                logger.warning(
                    "these settings change only when qpilot restarts; the running values stay until then",
                    metadata: ["fields": "\(changed.joined(separator: ", "))"])
            }
            var entries = config.desired.middleware ?? []
            var head: Revision?
            if config.desired.mode == .store {
                head = try await self.head()
                if head == nil, status.published, let fileChain = desired.middleware {
                    head = try await importFileChain(fileChain)
                }
                if let head {
                    do {
                        entries = try head.middleware.enabledEntries()
                    } catch {
                        throw QpilotError(error.code, error.message, field: "revision \(head.number)")
                    }
                }
            }
            let compiled: ChainCompiler.Compiled
            do {
                compiled = try await compile(entries, config.desired)
            } catch {
                throw head.map { error.prefixed("revision \($0.number): ") } ?? error
            }
            await publish(compiled, desired: config.desired, revision: head?.number)
            return .success(())
        } catch {
            state.withLock { $0.status.lastError = error.description }
            logger.error("config refused; the running config stays", metadata: ["file": "\(configURL.path)", "error": "\(error)"])
            return .failure(error)
        }
    }

    /// qpilot.yaml lost its `middleware:` section while the store is empty: the chain the file
    /// had becomes revision 1, so switching to the API does not leave Envoy without middleware.
    func importFileChain(_ entries: [ChainEntry]) async throws(QpilotError) -> Revision {
        do {
            let revision = try await store.commit(
                middleware: entries.map(\.spec), author: "qpilot", action: "import from qpilot.yaml", expected: 0)
            logger.notice(
                "qpilot.yaml has no middleware section now; its last chain is revision 1 of the store",
                metadata: ["middleware": "\(revision.middleware.map(\.name))"])
            return revision
        } catch {
            throw .store("cannot import the file's middleware into the store", error)
        }
    }

    /// Loads every module, reads the secrets the chain uses, and compiles; publishes nothing.
    func compile(_ entries: [ChainEntry], _ desired: DesiredConfig) async throws(QpilotError) -> ChainCompiler.Compiled {
        var secrets: [String: String] = [:]
        if entries.contains(where: { $0.config.contains(SecretReferences.prefix) }) {
            do {
                secrets = try await store.secretValues()
            } catch {
                throw .store("cannot read secrets", error)
            }
        }
        let loaded = try await modules.modules(for: entries, delivery: desired.delivery)
        return try ChainCompiler.compile(entries, modules: loaded, secrets: secrets, desired: desired, server: server)
    }
}
