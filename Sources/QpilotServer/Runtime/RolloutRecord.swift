import AdminServer
import Foundation
import Logging
import QpilotAPI
import Store
import XDS

/// What one revision published: per fleet key (a fleet with its own config, or `*` for every
/// other fleet) the version of each resource type, and which keys it changed. Saved in the
/// store, so a rollout's status survives a restart.
struct RolloutRecord: Codable, Sendable, Equatable {
    var publishedAt: Date
    var versions: [String: [String: String]]
    var changedFleets: [String]

    /// The versions a node of `fleet` should hold under this revision.
    func expected(for fleet: String) -> [String: String] { versions[fleet] ?? versions["*"] ?? [:] }

    /// Whether this revision changed what a node of `fleet` receives.
    func changes(_ fleet: String) -> Bool {
        changedFleets.contains(fleet) || (versions[fleet] == nil && changedFleets.contains("*"))
    }

    /// Each connected node of a changed fleet: ACKed every type at this revision's version, NACKed
    /// one (with Envoy's message), or pending. `current` gives what a fleet should hold now, to
    /// tell a node that moved on to a later revision (superseded) from one still on its way.
    func view(revision: Int, nodes: [NodeStatus], current: (String) -> [String: String]) -> RolloutView {
        var progress: [RolloutView.NodeProgress] = []
        var superseded = 0
        for node in nodes where node.connected && changes(node.fleet) {
            let expected = expected(for: node.fleet)
            if let nack = node.lastNack, expected[nack.type] == nack.version {
                progress.append(.init(nodeID: node.nodeID, fleet: node.fleet, state: "nacked", message: nack.message))
            } else if expected.allSatisfy({ node.acked[$0.key] == $0.value }) {
                progress.append(.init(nodeID: node.nodeID, fleet: node.fleet, state: "acked"))
            } else {
                if current(node.fleet) != expected { superseded += 1 }
                progress.append(.init(nodeID: node.nodeID, fleet: node.fleet, state: "pending"))
            }
        }
        let count = { (state: String) in progress.filter { $0.state == state }.count }
        let (acked, nacked, pending) = (count("acked"), count("nacked"), count("pending"))
        let state =
            nacked > 0 ? "failed" : pending == 0 ? "complete" : superseded > 0 ? "superseded" : "in-progress"
        return RolloutView(
            revision: revision, state: state, fleets: changedFleets, nodes: progress, acked: acked, nacked: nacked,
            pending: pending, publishedAt: publishedAt)
    }
}

extension Reconciler {
    /// Saves the record unless one exists and `replace` is false (a restart republishing the
    /// head keeps the original record).
    func recordRollout(_ record: RolloutRecord, revision: Int, replace: Bool) async {
        do {
            if !replace, try await state.rollout(revision: revision) != nil { return }
            try await state.saveRollout(revision: revision, record: try JSONEncoder().encode(record))
        } catch {
            logger.warning("cannot save the rollout record", metadata: ["revision": "\(revision)", "error": "\(error)"])
        }
    }

    /// `GET /v1/rollouts/<revision>`.
    public func rollout(_ revision: Int, nodes: [NodeStatus]) async throws(AdminError) -> RolloutView {
        guard let data = try await storeCall({ try await self.state.rollout(revision: revision) }) else {
            if try await storeCall({ try await self.state.revision(revision) }) == nil {
                throw AdminError(404, "unknown_revision", "there is no revision \(revision); `qctl history` lists them")
            }
            throw AdminError(404, "not_found", "revision \(revision) made no rollout (it was never published)")
        }
        let record: RolloutRecord
        do {
            record = try JSONDecoder().decode(RolloutRecord.self, from: data)
        } catch {
            throw AdminError(500, "store", "the rollout record of revision \(revision) is unreadable: \(error)")
        }
        let cache = self.cache
        return record.view(revision: revision, nodes: nodes) { fleet in
            cache.snapshot(for: fleet)?.versionsOfNonEmptyTypes ?? [:]
        }
    }
}
