import AdminServer
import Foundation
import Modules
import QpilotAPI
import Store
import XDS

/// The admin API's view of the running server: reads from the node registry and the snapshot
/// cache, writes through the reconciler.
struct RuntimeBackend: AdminBackend {
    let reconciler: Reconciler
    let nodeRegistry: NodeRegistry
    let cache: SnapshotCache
    let metricsRegistry: QpilotMetrics
    let xdsAddress: HostPort

    func nodes() -> [NodeView] {
        nodeRegistry.all().map { QpilotRuntime.view($0, cache.snapshot(for: $0.fleet)) }
    }

    func configStatus() -> ConfigStatusView {
        let status = reconciler.currentStatus
        return ConfigStatusView(
            generation: status.generation, published: status.published, middleware: status.middleware,
            lastError: status.lastError)
    }

    func middleware() async throws(AdminError) -> MiddlewareList { try await reconciler.middleware() }

    func write(_ write: ChainWrite, expected: Int?, actor: WriteActor) async throws(AdminError) -> WriteResult {
        try await reconciler.write(write, expected: expected, actor: actor)
    }

    func revisions(limit: Int) async throws(AdminError) -> RevisionList {
        let revisions = try await reconciler.storeCall { try await reconciler.state.revisions(limit: limit, before: nil) }
        return RevisionList(revisions: revisions.map(Self.summary))
    }

    func revision(_ number: Int) async throws(AdminError) -> RevisionDetail {
        guard let revision = try await reconciler.storeCall({ try await reconciler.state.revision(number) }) else {
            throw AdminError(404, "unknown_revision", "there is no revision \(number); `qctl history` lists them")
        }
        return RevisionDetail(summary: Self.summary(revision), middleware: revision.middleware)
    }

    func rollout(_ revision: Int) async throws(AdminError) -> RolloutView {
        try await reconciler.rollout(revision, nodes: nodeRegistry.all())
    }

    func secrets() async throws(AdminError) -> SecretList {
        SecretList(secrets: try await reconciler.storeCall { try await reconciler.state.secrets() })
    }

    func setSecret(name: String, value: String, actor: WriteActor) async throws(AdminError) -> SecretInfo {
        try await reconciler.setSecret(name: name, value: value, actor: actor)
    }

    func deleteSecret(name: String, actor: WriteActor) async throws(AdminError) {
        try await reconciler.deleteSecret(name: name, actor: actor)
    }

    func validate(_ request: ValidateRequest) async throws(AdminError) -> ModuleReport {
        do {
            let report = try await reconciler.validate(request)
            metricsRegistry.validation(ok: true)
            return report
        } catch {
            metricsRegistry.validation(ok: false)
            throw error
        }
    }

    func bootstrap(nodeID: String, fleet: String, delta: Bool, adminPort: Int) throws(AdminError) -> String {
        let bootstrap = Bootstrap(
            nodeID: nodeID, fleet: fleet, xds: xdsAddress, delta: delta, adminPort: adminPort)
        do {
            try bootstrap.validate()
        } catch {
            throw AdminError(400, "invalid", error.description)
        }
        return bootstrap.yaml
    }

    func metrics() -> String {
        metricsRegistry.updateConnectedNodes(nodeRegistry.all())
        return metricsRegistry.exposition()
    }

    static func summary(_ revision: Revision) -> RevisionSummary {
        RevisionSummary(
            revision: revision.number, author: revision.author, createdAt: revision.createdAt, action: revision.action,
            middleware: revision.middleware.map(\.name))
    }
}
