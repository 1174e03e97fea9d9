import Foundation
import Logging
import QpilotAPI
import Store
import Synchronization

/// Reloads of qpilot.yaml: the file's desired config, and in store mode the head revision.
extension ChainWriter {
    /// Reads, checks and publishes qpilot.yaml (and in store mode the head revision). On failure
    /// the running config stays, and the error is returned and logged.
    @discardableResult
    public func reload() async -> Result<Void, QpilotError> {
        // Modules are fetched before the turn (a refresh of `pullPolicy: Always` sources may wait
        // on a slow registry), so writes queued meanwhile do not wait behind the fetches.
        let prefetched = await prefetchForReload()
        return await takingTurns { () async -> Result<Void, QpilotError> in await self.reloadNow(prefetched: prefetched) }
    }

    /// The modules a reload will need, as the file and the store say now; what cannot be worked
    /// out is left for the turn, which reports it.
    func prefetchForReload() async -> ModuleResolver.Prefetched {
        guard let config = try? QpilotConfig.load(configURL).config else { return [:] }
        var entries = config.desired.middleware ?? []
        if config.desired.mode == .store {
            guard let head = try? await head(), let stored = try? head.middleware.enabledEntries() else { return [:] }
            entries = stored
        }
        return await modules.prefetch(entries, delivery: config.desired.delivery, confined: config.desired.mode == .store)
    }

    /// Reloads when the file's bytes changed since the last load.
    public func reloadIfChanged() async {
        guard let data = FileManager.default.contents(atPath: configURL.path) else { return }
        if QpilotConfig.fingerprint(data) != fingerprint { await reload() }
    }

    func reloadNow(prefetched: ModuleResolver.Prefetched = [:]) async -> Result<Void, QpilotError> {
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
                        throw error.prefixed("revision \(head.number): ")
                    }
                }
            }
            let compiled: ChainCompiler.Compiled
            do {
                compiled = try await compile(entries, config.desired, prefetched: prefetched)
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
        // Compiled again only to learn each entry's module, which the revision records.
        let chain = try await compile(entries, desired).recordingModules(entries.map(\.spec))
        do {
            let revision = try await store.commit(
                middleware: chain, author: "qpilot", action: "import from qpilot.yaml", expected: 0)
            logger.notice(
                "qpilot.yaml has no middleware section now; its last chain is revision 1 of the store",
                metadata: ["middleware": "\(revision.middleware.map(\.name))"])
            return revision
        } catch {
            throw .store("cannot import the file's middleware into the store", error)
        }
    }
}
