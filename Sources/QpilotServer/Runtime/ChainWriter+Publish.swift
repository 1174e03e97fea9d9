import Foundation
import Logging
import Metrics
import Modules
import QpilotAPI
import Store
import Synchronization
import Translator
import XDS

extension ChainWriter {
    /// `qpilot_intercepted_hosts{fleet}`: the hosts each fleet's config intercepts (`*`: every
    /// fleet without a config of its own). A fleet that no longer has its own config reads 0.
    func recordInterceptedHosts(_ snapshots: SnapshotCache.Checked) {
        var counts = snapshots.byFleet.mapValues(\.secretNames.count)
        counts[FleetKey.everyOther.description] = snapshots.fallback.secretNames.count
        for fleet in publishedVersions.keys.map(\.description) where counts[fleet] == nil { counts[fleet] = 0 }
        for (fleet, count) in counts { Gauge(label: "qpilot_intercepted_hosts", dimensions: [("fleet", fleet)]).record(count) }
    }

    /// Publishes compiled (and so already checked) snapshots, records what each fleet now
    /// receives (and, unless `asLastGood` is false, that this config is the last good one), and
    /// collects modules nothing refers to any more.
    func publish(_ compiled: ChainCompiler.Compiled, desired: DesiredConfig, revision: Int?, asLastGood: Bool = true) async {
        cache.publish(compiled.snapshots)
        recordInterceptedHosts(compiled.snapshots)
        if asLastGood { recordLastGood(compiled, revision: revision) }
        needsRefresh = compiled.needsRefresh
        let versions = compiled.versions
        let changed = Set(versions.keys).union(publishedVersions.keys).filter { versions[$0] != publishedVersions[$0] }
        publishedVersions = versions
        if let revision {
            await recordRollout(
                RolloutRecord(
                    publishedAt: Date(), versions: versions, changedFleets: changed.sorted(), filters: compiled.filterVersions),
                revision: revision,
                replace: !changed.isEmpty)
        }
        var keep = Set(compiled.state.middleware.map(\.sha256))
        if desired.mode == .store { keep.formUnion(await recentRevisionModules()) }
        collectGarbage(keeping: keep)
        let names = compiled.chain
        state.withLock { state in
            state.status.published = true
            state.status.generation += 1
            state.status.lastError = nil
            state.status.middleware = names
            state.status.mode = desired.mode
            state.status.revision = revision ?? 0
            state.status.fleets = compiled.snapshots.byFleet.keys.sorted()
            state.desired = desired
        }
        logger.info(
            "config published",
            metadata: [
                "middleware": "\(names.joined(separator: ","))", "fleets": "\(compiled.snapshots.byFleet.keys.sorted())",
                "mode": "\(desired.mode)", "revision": "\(revision ?? 0)",
            ])
    }

    /// Saves the record unless one exists and `replace` is false (a restart republishing the
    /// head keeps the original record).
    func recordRollout(_ record: RolloutRecord, revision: Int, replace: Bool) async {
        do {
            if !replace, try await store.rollout(revision: revision) != nil { return }
            try await store.saveRollout(revision: revision, record: try JSONEncoder().encode(record))
        } catch {
            logger.warning("cannot save the rollout record", metadata: ["revision": "\(revision)", "error": "\(error)"])
        }
    }

    static let revisionsKeptForRollback = 10
    static let generationsKept = 5

    /// Modules of the latest revisions, kept so that a rollback needs no fetch.
    func recentRevisionModules() async -> Set<String> {
        let revisions = (try? await store.revisions(limit: Self.revisionsKeptForRollback, before: nil)) ?? []
        return Set(revisions.flatMap { $0.middleware.compactMap(\.resolvedSHA256) })
    }

    /// A module stays stored while any of the latest published generations refers to it: an
    /// Envoy that NACKed a change still runs the previous one, and may need to fetch it again
    /// (remote delivery) after a restart.
    func collectGarbage(keeping current: Set<String>) {
        // A reload that changes no module (a SIGHUP, a refresh) is not a new generation here.
        if recentModules.last != current { recentModules.append(current) }
        if recentModules.count > Self.generationsKept { recentModules.removeFirst() }
        let removed = moduleStore.collectGarbage(keeping: recentModules.reduce(into: Set<String>()) { $0.formUnion($1) })
        for digest in removed { moduleCache?.forget(digest) }
        if !removed.isEmpty {
            logger.info("removed modules no longer referenced", metadata: ["sha256": "\(removed)"])
        }
    }
}
