import AdminServer
import Foundation
import Logging
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
        cache = SnapshotCache()
        nodes = NodeRegistry()
        reconciler = try Reconciler(configURL: url, settings: config, cache: cache, logger: logger)
        if case .failure(let error) = await reconciler.reload() { throw error }
        xds = XDSService(
            address: config.xdsAddress, maxReceiveBytes: config.xdsMaxReceiveBytes,
            discovery: AggregatedDiscoveryServer(watcher: cache, nodes: nodes, logger: logger))
    }

    /// The services, to run in one ServiceGroup.
    public func services() -> [any Service] {
        let reconciler = self.reconciler
        let modules = ModuleEndpoint.application(
            host: config.modulesAddress.host, port: config.modulesAddress.port, store: reconciler.store,
            ready: { reconciler.currentStatus.published }, logger: logger)
        return [xds, modules, ConfigWatchService(reconciler: reconciler, refresh: .seconds(config.modulesRefreshSeconds))]
    }

    /// Runs until SIGTERM or SIGINT.
    public func run() async throws {
        let group = ServiceGroup(
            services: services(), gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        logger.info(
            "qpilot serving",
            metadata: [
                "xds": "\(config.xdsAddress)", "modules": "\(config.modulesAddress)",
                "egress": "\(config.egressAddress):\(config.egressPort)",
            ])
        try await group.run()
    }
}
