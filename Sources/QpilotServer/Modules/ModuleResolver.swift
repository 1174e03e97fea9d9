import Foundation
import Logging
import Modules
import QpilotAPI

/// Gets the module of each middleware entry, honouring its pull policy, and remembers what every
/// source resolved to (in `<dataDir>/modules/resolved.json`), so a restart needs no network for
/// sources already pulled, and a registry outage keeps the last good module serving.
actor ModuleResolver {
    struct Resolved: Codable, Equatable {
        var sha256: String
        var resolvedDigest: String?
        var layout: String?
        var fetchedAt: Date
    }

    let fetcher: ModuleFetcher
    /// The same fetcher, with file sources confined to `modules.sourceDirs`: for every source
    /// the admin API hands in (store mode, and `POST /v1/modules/validate`).
    let confinedFetcher: ModuleFetcher
    let store: ModuleStore
    /// Relative sources are read from qpilot.yaml's folder.
    let directory: URL
    /// Where `delivery: file` modules are written for Envoy.
    let sharedDir: URL?
    let indexURL: URL
    let logger: Logger
    private var index: [String: Resolved]

    /// `sourceDirs` nil leaves API file sources unconfined (tests of other things only).
    init(fetcher: ModuleFetcher, store: ModuleStore, directory: URL, sharedDir: URL?, sourceDirs: [URL]?, logger: Logger) {
        self.fetcher = fetcher
        var confined = fetcher.limits
        confined.fileDirectories = sourceDirs
        confinedFetcher = ModuleFetcher(limits: confined, credentials: fetcher.credentials)
        self.store = store
        self.directory = directory
        self.sharedDir = sharedDir
        self.logger = logger
        indexURL = store.directory.deletingLastPathComponent().appendingPathComponent("resolved.json")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        index = FileManager.default.contents(atPath: indexURL.path).flatMap { try? decoder.decode([String: Resolved].self, from: $0) } ?? [:]
    }

    /// What a source last resolved to.
    func resolved(_ source: ModuleSource) -> Resolved? { index[source.description] }

    /// The module of each entry, in order: taken from the store or fetched, validated, stored, and
    /// for `delivery: file` written into the shared directory. A problem names the entry's field.
    /// An entry found in `prefetched` (by `ChainEntry.fetchKey`) takes that result instead: it was
    /// loaded before the caller's turn, so a slow source does not hold the turn.
    /// `confined`: the entries came through the admin API (store mode), so their file sources
    /// must lie in `modules.sourceDirs`.
    func modules(
        for entries: [ChainEntry], delivery: Delivery?, confined: Bool, prefetched: Prefetched = [:]
    ) async throws(QpilotError) -> [LoadedModule] {
        var modules: [LoadedModule] = []
        for entry in entries {
            if let result = prefetched[entry.fetchKey] {
                modules.append(try result.get())
            } else {
                modules.append(try await load(entry, delivery: delivery, confined: confined))
            }
        }
        return modules
    }

    /// What `prefetch` loaded, by `ChainEntry.fetchKey`: a module, or the error its entry gets.
    typealias Prefetched = [String: Result<LoadedModule, QpilotError>]

    /// Loads each entry's module ahead of a writer's turn; problems are kept, not thrown, and
    /// become the entry's error when the turn uses the result.
    func prefetch(_ entries: [ChainEntry], delivery: Delivery?, confined: Bool) async -> Prefetched {
        var result: Prefetched = [:]
        for entry in entries {
            do throws(QpilotError) {
                result[entry.fetchKey] = .success(try await load(entry, delivery: delivery, confined: confined))
            } catch {
                result[entry.fetchKey] = .failure(error)
            }
        }
        return result
    }

    private func load(_ entry: ChainEntry, delivery: Delivery?, confined: Bool) async throws(QpilotError) -> LoadedModule {
        let module: LoadedModule
        do {
            if let stored = entry.storedSHA256, entry.pullPolicy == .ifNotPresent, let verified = store.verified(stored) {
                module = verified
            } else {
                let source = try ModuleSource(parsing: entry.source, relativeTo: directory)
                // A stored revision names its exact module; `Always` follows the source instead.
                let pin = entry.pullPolicy == .ifNotPresent ? entry.sha256 ?? entry.storedSHA256 : entry.sha256
                module = try await self.module(source, sha256: pin, policy: entry.pullPolicy, confined: confined)
            }
        } catch {
            let field = error.isDigestMismatch && entry.sha256 != nil ? "sha256" : "source"
            throw entry.problem(.invalidModule, field, error.description, cause: error)
        }
        if (entry.delivery ?? delivery) == .file {
            do {
                try writeForEnvoy(module)
            } catch {
                throw entry.problem(.invalidModule, "delivery", "cannot write the module for Envoy: \(error)", cause: error)
            }
        }
        return module
    }

    /// Where Envoy reads a module delivered `file`.
    static func sharedPath(of sha256: String, in sharedDir: URL) -> URL { sharedDir.appendingPathComponent("\(sha256).wasm") }

    private func writeForEnvoy(_ module: LoadedModule) throws {
        guard let sharedDir else { throw ModuleError("modules.sharedDir is not set") }
        let target = Self.sharedPath(of: module.sha256, in: sharedDir)
        try FileManager.default.createDirectory(at: sharedDir, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: target.path) {
            try ModuleStore.writeAtomically(module.bytes, to: target)
        }
    }

    /// Fetches and validates a module without storing it (`POST /v1/modules/validate`).
    func check(source text: String, sha256: String?) async throws(QpilotError) -> ModuleReport {
        var pin: String?
        if let sha256 {
            guard let normalized = MiddlewareRules.normalizedSHA256(sha256) else {
                throw QpilotError(.invalid, "sha256: \(MiddlewareRules.sha256Problem)")
            }
            pin = normalized
        }
        do {
            let source = try ModuleSource(parsing: text, relativeTo: directory)
            let fetched = try await confinedFetcher.fetch(source, expectedSHA256: pin)
            return try ModuleValidator.validate(fetched.module)
        } catch let error as ModuleValidationError {
            throw QpilotError(
                .invalidModule, "not a valid Proxy-Wasm module: " + error.problems.map(\.description).joined(separator: "; "), cause: error)
        } catch {
            throw QpilotError(.invalidModule, "\(error)", cause: error)
        }
    }

    func module(
        _ source: ModuleSource, sha256 expected: String?, policy: PullPolicy, confined: Bool
    ) async throws(ModuleError) -> LoadedModule {
        let key = source.description
        if case .file = source {
            // Local files are cheap to read and may have been rebuilt: always read them.
        } else if policy == .ifNotPresent, let known = index[key], expected == nil || expected == known.sha256,
            let verified = store.verified(known.sha256)
        {
            return verified
        }
        let fetched: ModuleFetcher.Fetched
        do {
            fetched = try await (confined ? confinedFetcher : fetcher).fetch(source, expectedSHA256: expected)
            QpilotMetrics.shared.fetch(ok: true)
        } catch {
            QpilotMetrics.shared.fetch(ok: false)
            if policy == .always, let known = index[key], expected == nil || expected == known.sha256,
                let verified = store.verified(known.sha256)
            {
                logger.warning(
                    "cannot refresh a module; the last good one keeps serving",
                    metadata: ["source": "\(key)", "sha256": "\(known.sha256)", "error": "\(error)"])
                return verified
            }
            throw error
        }
        // Whatever Envoy would refuse to load, qpilot refuses first, before it is stored or served.
        do {
            _ = try ModuleValidator.validate(fetched.module)
            QpilotMetrics.shared.validation(ok: true)
        } catch {
            QpilotMetrics.shared.validation(ok: false)
            throw ModuleError("\(key) is not a valid Proxy-Wasm module: " + error.problems.map(\.description).joined(separator: "; "))
        }
        try store.put(fetched.module)
        let entry = Resolved(
            sha256: fetched.module.sha256, resolvedDigest: fetched.resolvedDigest, layout: fetched.layout, fetchedAt: Date())
        if index[key]?.sha256 != entry.sha256 || index[key]?.resolvedDigest != entry.resolvedDigest {
            if let digest = fetched.resolvedDigest {
                logger.info("resolved module", metadata: ["source": "\(key)", "digest": "\(digest)", "sha256": "\(entry.sha256)"])
            }
            index[key] = entry
            persist()
        }
        return fetched.module
    }

    /// The sha256 of every module that any source resolved to, for garbage collection.
    func referenced() -> Set<String> { Set(index.values.map(\.sha256)) }

    private func persist() {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        guard let data = try? encoder.encode(index) else { return }
        do {
            try ModuleStore.writeAtomically(data, to: indexURL)
        } catch {
            logger.error("cannot record resolved modules", metadata: ["error": "\(error)"])
        }
    }
}
