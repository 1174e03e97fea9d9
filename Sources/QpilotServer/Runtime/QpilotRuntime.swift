import AdminServer
import Foundation
import Logging
import QpilotAPI
import ServiceLifecycle
import UnixSignals
import XDS

/// Everything `qpilot serve` runs, wired together; tests run the same thing in-process.
public struct QpilotRuntime: Sendable {
    public let config: QpilotConfig
    public let cache: SnapshotCache
    public let nodes: NodeRegistry
    public let reconciler: Reconciler
    public let xds: XDSService
    let logger: Logger

    /// Loads and publishes the config once; throws when it is unusable, so a bad file stops the
    /// start with its message rather than serving nothing.
    public init(configPath: String, logger: Logger) async throws {
        let url = URL(fileURLWithPath: configPath).standardizedFileURL
        let text = try Reconciler.read(url)
        let config = try QpilotConfig.parse(text)
        self.config = config
        self.logger = logger
        // Before any stream records a metric: swift-metrics drops what is recorded earlier.
        _ = QpilotMetrics.shared
        cache = SnapshotCache()
        nodes = NodeRegistry()
        reconciler = try Reconciler(configURL: url, settings: config, cache: cache, logger: logger)
        if case .failure(let error) = await reconciler.reload() { throw error }
        xds = XDSService(
            address: config.xdsAddress, maxReceiveBytes: config.xdsMaxReceiveBytes,
            discovery: AggregatedDiscoveryServer(watcher: cache, nodes: nodes, logger: logger))
    }

    /// The admin API's tokens file: `admin.tokensFile`, else `<dataDir>/admin-tokens`.
    public var tokensFile: URL {
        Reconciler.resolve(config.adminTokensFile ?? "\(config.dataDir)/admin-tokens", against: reconciler.configURL)
    }

    /// The services, to run in one ServiceGroup.
    public func services() throws -> [any Service] {
        let reconciler = self.reconciler
        let modules = ModuleEndpoint.application(
            host: config.modulesAddress.host, port: config.modulesAddress.port, store: reconciler.store,
            ready: { reconciler.currentStatus.published }, logger: logger)
        let (tokens, created) = try Tokens.loadOrCreate(at: tokensFile)
        if created {
            logger.notice("created an admin token; qctl reads it with --token-file", metadata: ["file": "\(tokensFile.path)"])
        }
        let metrics = QpilotMetrics.shared
        let admin = AdminAPI.application(
            host: config.adminAddress.host, port: config.adminAddress.port, tokens: tokens,
            backend: RuntimeBackend(
                reconciler: reconciler, nodeRegistry: nodes, cache: cache, metricsRegistry: metrics, xdsAddress: config.xdsAddress),
            logger: logger, onResponse: { metrics.adminResponse(status: $0) })
        return [xds, modules, admin, ConfigWatchService(reconciler: reconciler, refresh: .seconds(config.modulesRefreshSeconds))]
    }

    static func view(_ status: NodeStatus, _ snapshot: Snapshot?) -> NodeView {
        return NodeView(
            nodeID: status.nodeID, fleet: status.fleet, envoyVersion: status.envoyVersion,
            protocolFlavour: status.protocolFlavour, connected: status.connected, connectedSince: status.connectedSince,
            state: status.syncState(against: snapshot).rawValue, acked: status.acked, desired: snapshot?.versionsOfNonEmptyTypes ?? [:],
            lastNack: status.lastNack.map { .init(type: $0.type, version: $0.version, message: $0.message, at: $0.at) })
    }

    /// Runs until SIGTERM or SIGINT.
    public func run() async throws {
        let group = ServiceGroup(
            services: try services(), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        logger.info(
            "qpilot serving",
            metadata: [
                "xds": "\(config.xdsAddress)", "modules": "\(config.modulesAddress)", "admin": "\(config.adminAddress)",
                "egress": "\(config.egressAddress):\(config.egressPort)",
            ])
        try await group.run()
    }
}
