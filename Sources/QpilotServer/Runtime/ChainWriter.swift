import Crypto
import Foundation
import Logging
import Modules
import QpilotAPI
import Store
import Synchronization
import Translator
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
        /// The fleets that some middleware names, as published.
        public var fleets: [String] = []
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
    /// Keys every resource version (see `XDS.Resource`); the store keeps it.
    let versionKey: SymmetricKey?
    /// qpilot's CA (PEM) when the module endpoint speaks HTTPS; see `DesiredState.ModuleEndpoint.ca`.
    let moduleCA: String?
    /// The module endpoint's in-memory copies; a module collected from the store leaves it too.
    let moduleCache: ModuleCache?

    nonisolated let state: Mutex<(status: Status, desired: DesiredConfig)>
    var fingerprint: String?
    /// Some middleware has `pullPolicy: Always`, so reconciles repeat on a timer.
    public internal(set) var needsRefresh = false
    /// What each fleet key received at the last publish, for rollout records.
    var publishedVersions: [FleetKey: ConfigVersions] = [:]
    /// Module sets of the latest published generations (see `collectGarbage`).
    var recentModules: [Set<String>] = []
    /// What `last-good.json` holds, once this process wrote or read it (see ChainWriter+LastGood).
    var lastGood: LastGood?
    var busy = false
    /// Calls waiting for their turn, in arrival order; each is resumed with true when its turn
    /// comes, or false when it gave up waiting.
    var waiting: [(ticket: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    var lastTicket = 0

    init(
        configURL: URL, loaded: QpilotConfig, cache: SnapshotCache, store: any StateStore, modules: ModuleResolver,
        moduleStore: ModuleStore, logger: Logger, versionKey: SymmetricKey? = nil, moduleCA: String? = nil,
        moduleCache: ModuleCache? = nil
    ) {
        self.moduleCA = moduleCA
        self.moduleCache = moduleCache
        self.versionKey = versionKey
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

    /// Loads every module, reads the secrets the chain uses, and compiles; publishes nothing.
    /// `confined` (by default: in store mode) holds file sources to `modules.sourceDirs`.
    func compile(
        _ entries: [ChainEntry], _ desired: DesiredConfig, prefetched: ModuleResolver.Prefetched = [:], confined: Bool? = nil
    ) async throws(QpilotError) -> ChainCompiler.Compiled {
        var secrets: [String: String] = [:]
        if entries.contains(where: { $0.config.contains(SecretReferences.prefix) }) {
            do {
                secrets = try await store.secretValues()
            } catch {
                throw .store("cannot read secrets", error)
            }
        }
        var desired = desired
        if !desired.interceptFromFile { desired.tls.intercept = try await storedIntercepts() }
        let loaded = try await modules.modules(
            for: entries, delivery: desired.delivery, confined: confined ?? (desired.mode == .store), prefetched: prefetched)
        return try ChainCompiler.compile(
            entries, modules: loaded, secrets: secrets, desired: desired, server: server, versionKey: versionKey, moduleCA: moduleCA)
    }
}
