import Foundation
import Logging
import Modules
import QpilotAPI
import Synchronization

/// The last good config, kept so that a restart that cannot build the current one (a module file
/// gone, a registry down for a source not fetched yet) serves what Envoy already runs instead of
/// refusing to start, and says so.
///
/// What is kept is the recipe, not the bytes: the enabled middleware as specs, each with the
/// sha256 of the module it was compiled with. Modules stay in the module store for the latest
/// generations, and compiling the same specs, modules and secrets gives byte-equal snapshots
/// with the same versions, so Envoy sees no change. Secrets stay sealed in the store: the file
/// holds `${secret:…}` references only.
struct LastGood: Codable, Sendable, Equatable {
    var publishedAt: Date
    /// The store revision, in store mode.
    var revision: Int?
    var middleware: [MiddlewareSpec]

    static func url(in dataDir: URL) -> URL { dataDir.appendingPathComponent("last-good.json") }
}

extension ChainWriter {
    /// Records what was just published as the last good config.
    func recordLastGood(_ compiled: ChainCompiler.Compiled, revision: Int?) {
        let record = LastGood(publishedAt: Date(), revision: revision, middleware: compiled.compiledFrom)
        let url = LastGood.url(in: server.dataDir)
        if lastGood == nil { lastGood = try? APIJSON.decoder().decode(LastGood.self, from: Data(contentsOf: url)) }
        if let lastGood, lastGood.revision == record.revision, lastGood.middleware == record.middleware {
            return  // the same config again (a SIGHUP, a refresh, a restart): keep the first time it was published
        }
        do {
            try ModuleStore.writeAtomically(try APIJSON.encoder().encode(record), to: url, mode: 0o600)
            lastGood = record
        } catch {
            logger.warning("cannot record the last good config", metadata: ["file": "\(url.path)", "error": "\(error)"])
        }
    }

    /// After the first load failed: builds and publishes the last good config with the current
    /// qpilot.yaml settings, and keeps `problem` as the status's error. False when there is none,
    /// or it cannot be built either; the caller then refuses to start with `problem`.
    func serveLastGood(after problem: QpilotError) async -> Bool {
        let url = LastGood.url(in: server.dataDir)
        guard let data = try? Data(contentsOf: url), let record = try? APIJSON.decoder().decode(LastGood.self, from: data) else {
            return false
        }
        let desired = (try? QpilotConfig.load(configURL).config.desired) ?? self.desired
        do throws(QpilotError) {
            // Exactly the recorded modules: from the store, never fetched again.
            let entries = try record.middleware.enabledEntries().map { entry in
                var entry = entry
                entry.pullPolicy = .ifNotPresent
                return entry
            }
            let compiled = try await compile(entries, desired, confined: false)
            await publish(compiled, desired: desired, revision: nil, asLastGood: false)
            let reason =
                "serving the last good config (published \(ISO8601DateFormatter().string(from: record.publishedAt))"
                + (record.revision.map { ", revision \($0)" } ?? "") + ") because the current one cannot be built: \(problem)"
            state.withLock { state in
                state.status.lastError = reason
                state.status.revision = record.revision ?? 0
            }
            logger.error(
                "the current config cannot be built; serving the last good one until a reload or a write succeeds",
                metadata: [
                    "error": "\(problem)", "lastGood": "\(url.path)", "revision": "\(record.revision.map(String.init) ?? "none")",
                ])
            return true
        } catch {
            logger.error(
                "the last good config cannot be built either", metadata: ["file": "\(url.path)", "error": "\(error)"])
            return false
        }
    }
}
