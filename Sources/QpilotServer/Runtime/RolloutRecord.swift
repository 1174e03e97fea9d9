import Foundation
import QpilotAPI
import Translator
import XDS

/// What one revision published: per fleet key the version of each config type and of each
/// middleware's filter config, and which keys it changed. Saved in the store, so a rollout's
/// status survives a restart.
struct RolloutRecord: Codable, Sendable, Equatable {
    var publishedAt: Date
    var versions: [FleetKey: ConfigVersions]
    var changedFleets: [FleetKey]
    /// Per fleet key, the version of each ECDS resource (name → version). Absent in records
    /// written before qpilot tracked middleware one by one.
    var filters: [FleetKey: [String: String]]?

    /// The versions a node of `fleet` should hold under this revision.
    func expected(for fleet: String) -> ConfigVersions { versions[.named(fleet)] ?? versions[.everyOther] ?? [:] }

    /// The ECDS versions a node of `fleet` should hold under this revision, when recorded.
    func expectedFilters(for fleet: String) -> [String: String]? {
        guard let filters else { return nil }
        return filters[.named(fleet)] ?? filters[.everyOther] ?? [:]
    }

    /// Whether this revision changed what a node of `fleet` receives.
    func changes(_ fleet: String) -> Bool {
        changedFleets.contains(.named(fleet)) || (versions[.named(fleet)] == nil && changedFleets.contains(.everyOther))
    }

    /// Each connected node of a changed fleet: runs every type and every middleware at this
    /// revision's version (acked), refused one of them (nacked, with Envoy's message and the
    /// middleware), or pending. `current` gives what a fleet should hold now, to tell a node that
    /// moved on to a later revision (superseded) from one still on its way.
    func view(revision: Int, nodes: [NodeStatus], current: (String) -> ConfigVersions) -> RolloutView {
        var progress: [RolloutView.NodeProgress] = []
        var superseded = 0
        for node in nodes where node.connected && changes(node.fleet) {
            let state = progressOf(node)
            if state.state == .pending || state.state == .fetching, current(node.fleet) != expected(for: node.fleet) {
                superseded += 1
            }
            progress.append(state)
        }
        let count = { (state: NodeRolloutState) in progress.filter { $0.state == state }.count }
        let (acked, nacked, pending, fetching) = (count(.acked), count(.nacked), count(.pending), count(.fetching))
        let state: RolloutState =
            nacked > 0 ? .failed : pending + fetching == 0 ? .complete : superseded > 0 ? .superseded : .inProgress
        return RolloutView(
            revision: revision, state: state, fleets: changedFleets, nodes: progress, acked: acked, nacked: nacked,
            pending: pending, fetching: fetching, publishedAt: publishedAt)
    }

    private func progressOf(_ node: NodeStatus) -> RolloutView.NodeProgress {
        let expected = expected(for: node.fleet)
        let filters = expectedFilters(for: node.fleet)
        let pending = RolloutView.NodeProgress(nodeID: node.nodeID, fleet: node.fleet, state: .pending)
        var nacked = pending
        nacked.state = .nacked
        if let filters, let refused = node.rejectedFilters(desired: filters).min(by: { $0.key < $1.key }) {
            nacked.message = refused.value.message
            nacked.middleware = Names.middleware(ofFilter: refused.key) ?? refused.key
            return nacked
        }
        if let nack = node.lastNack, expected[nack.type.configType] == nack.version, filters == nil || nack.type != .extensionConfig {
            nacked.message = nack.message
            return nacked
        }
        if let filters, let name = node.fetchingFilters(desired: filters).keys.min() {
            var fetching = pending
            fetching.state = .fetching
            fetching.middleware = Names.middleware(ofFilter: name) ?? name
            return fetching
        }
        let acked = node.ackedConfig
        for (type, version) in expected {
            if type == ResourceType.extensionConfig.configType, let filters {
                let running = node.ackedFilters
                if filters.contains(where: { running[$0.key] != $0.value }) { return pending }
            } else if acked[type] != version {
                return pending
            }
        }
        var done = pending
        done.state = .acked
        return done
    }
}

extension NodeStatus {
    /// The ACKed versions, in the API's names.
    var ackedConfig: ConfigVersions { acked.configVersions }

    /// The node as `GET /v1/nodes` shows it, against the snapshot its fleet should hold. The
    /// middleware's ACKed version is what the node runs, middleware by middleware: Envoy's own
    /// report would count a refused config that it skipped on a re-send.
    func view(against snapshot: Snapshot?) -> NodeView {
        let desired = snapshot?.filterVersions ?? [:]
        let rejected = snapshot.map(rejectedFilters(against:)) ?? [:]
        var acked = ackedConfig
        if acked[.middleware] != nil, snapshot != nil {
            let running = ackedFilters.filter { desired[$0.key] != nil }
            acked[.middleware] = Snapshot.typeVersion(running)
        }
        let middleware = desired.keys.sorted().map { name in
            let filter = filters[name]
            let state: SyncState =
                rejected[name] != nil
                ? .nacked
                : (desired[name] != nil && filter?.acked == desired[name])
                    ? .inSync : filter?.fetching?.version == desired[name] ? .fetching : .pending
            return MiddlewareOnNode(
                name: Names.middleware(ofFilter: name) ?? name, state: state, desired: desired[name], acked: filter?.acked,
                rejected: filter?.rejected.map {
                    .init(version: $0.version, message: $0.message, at: $0.at, serving: $0.serving, servingRevision: nil)
                })
        }
        return NodeView(
            nodeID: nodeID, fleet: fleet, envoyVersion: envoyVersion, protocolFlavour: protocolFlavour, connected: connected,
            connectedSince: connectedSince, state: syncState(against: snapshot), acked: acked,
            desired: snapshot?.configVersions ?? [:],
            // An ECDS NACK is shown while some middleware is refused at its desired version; one about
            // a version the fleet no longer wants (a rollback) is history.
            lastNack: lastNack.flatMap { nack in
                nack.type == .extensionConfig && snapshot != nil && rejected.isEmpty
                    ? nil : .init(type: nack.type.configType, version: nack.version, message: nack.message, at: nack.at)
            },
            middleware: middleware)
    }
}
