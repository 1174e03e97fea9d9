import Foundation
import QpilotAPI
import XDS

/// What one revision published: per fleet key the version of each config type, and which keys
/// it changed. Saved in the store, so a rollout's status survives a restart.
struct RolloutRecord: Codable, Sendable, Equatable {
    var publishedAt: Date
    var versions: [FleetKey: ConfigVersions]
    var changedFleets: [FleetKey]

    /// The versions a node of `fleet` should hold under this revision.
    func expected(for fleet: String) -> ConfigVersions { versions[.named(fleet)] ?? versions[.everyOther] ?? [:] }

    /// Whether this revision changed what a node of `fleet` receives.
    func changes(_ fleet: String) -> Bool {
        changedFleets.contains(.named(fleet)) || (versions[.named(fleet)] == nil && changedFleets.contains(.everyOther))
    }

    /// Each connected node of a changed fleet: ACKed every type at this revision's version, NACKed
    /// one (with Envoy's message), or pending. `current` gives what a fleet should hold now, to
    /// tell a node that moved on to a later revision (superseded) from one still on its way.
    func view(revision: Int, nodes: [NodeStatus], current: (String) -> ConfigVersions) -> RolloutView {
        var progress: [RolloutView.NodeProgress] = []
        var superseded = 0
        for node in nodes where node.connected && changes(node.fleet) {
            let expected = expected(for: node.fleet)
            let acked = node.ackedConfig
            if let nack = node.lastNack, expected[nack.type.configType] == nack.version {
                progress.append(.init(nodeID: node.nodeID, fleet: node.fleet, state: .nacked, message: nack.message))
            } else if expected.allSatisfy({ acked[$0.key] == $0.value }) {
                progress.append(.init(nodeID: node.nodeID, fleet: node.fleet, state: .acked))
            } else {
                if current(node.fleet) != expected { superseded += 1 }
                progress.append(.init(nodeID: node.nodeID, fleet: node.fleet, state: .pending))
            }
        }
        let count = { (state: NodeRolloutState) in progress.filter { $0.state == state }.count }
        let (acked, nacked, pending) = (count(.acked), count(.nacked), count(.pending))
        let state: RolloutState = nacked > 0 ? .failed : pending == 0 ? .complete : superseded > 0 ? .superseded : .inProgress
        return RolloutView(
            revision: revision, state: state, fleets: changedFleets, nodes: progress, acked: acked, nacked: nacked,
            pending: pending, publishedAt: publishedAt)
    }
}

extension NodeStatus {
    /// The ACKed versions, in the API's names.
    var ackedConfig: ConfigVersions { acked.configVersions }

    /// The node as `GET /v1/nodes` shows it, against the snapshot its fleet should hold.
    func view(against snapshot: Snapshot?) -> NodeView {
        NodeView(
            nodeID: nodeID, fleet: fleet, envoyVersion: envoyVersion, protocolFlavour: protocolFlavour, connected: connected,
            connectedSince: connectedSince, state: syncState(against: snapshot), acked: ackedConfig,
            desired: snapshot?.configVersions ?? [:],
            lastNack: lastNack.map { .init(type: $0.type.configType, version: $0.version, message: $0.message, at: $0.at) })
    }
}
