import Foundation
import Logging
import Modules

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
    let store: ModuleStore
    let indexURL: URL
    let logger: Logger
    private var index: [String: Resolved]

    init(fetcher: ModuleFetcher, store: ModuleStore, logger: Logger) {
        self.fetcher = fetcher
        self.store = store
        self.logger = logger
        indexURL = store.directory.deletingLastPathComponent().appendingPathComponent("resolved.json")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        index = FileManager.default.contents(atPath: indexURL.path).flatMap { try? decoder.decode([String: Resolved].self, from: $0) } ?? [:]
    }

    /// What a source last resolved to.
    func resolved(_ source: ModuleSource) -> Resolved? { index[source.description] }

    func module(
        _ source: ModuleSource, sha256 expected: String?, policy: QpilotConfig.PullPolicy
    ) async throws(ModuleError) -> LoadedModule {
        let key = source.description
        if case .file = source {
            // Local files are cheap to read and may have been rebuilt: always read them.
        } else if policy == .IfNotPresent, let known = index[key], expected == nil || expected == known.sha256,
            let bytes = store.get(known.sha256)
        {
            return try LoadedModule(bytes: bytes, origin: key)
        }
        let fetched: ModuleFetcher.Fetched
        do {
            fetched = try await fetcher.fetch(source, expectedSHA256: expected)
            QpilotMetrics.shared.fetch(ok: true)
        } catch {
            QpilotMetrics.shared.fetch(ok: false)
            if policy == .Always, let known = index[key], expected == nil || expected == known.sha256,
                let bytes = store.get(known.sha256)
            {
                logger.warning(
                    "cannot refresh a module; the last good one keeps serving",
                    metadata: ["source": "\(key)", "sha256": "\(known.sha256)", "error": "\(error)"])
                return try LoadedModule(bytes: bytes, origin: key)
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
