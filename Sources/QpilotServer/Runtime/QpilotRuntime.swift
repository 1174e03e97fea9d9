import AdminServer
import Crypto
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCertificateReloading
import NIOSSL
import Logging
import Modules
import PKI
import QpilotAPI
import ServiceLifecycle
import Store
import UnixSignals
import XDS

/// Everything `qpilot serve` runs, wired together; tests run the same thing in-process. The
/// runtime builds the stores and hands them to the parts that use them.
public struct QpilotRuntime: Sendable {
    public let config: QpilotConfig
    public let cache: SnapshotCache
    public let nodes: NodeRegistry
    public let writer: ChainWriter
    /// Modules by sha256, under `<dataDir>/modules`.
    public let moduleStore: ModuleStore
    /// The modules the module endpoint serves, each held in memory once.
    public let moduleCache: ModuleCache
    /// What the module endpoint saw each ADS stream's Envoy download (remote delivery).
    public let moduleFetches = ModuleFetches()
    public let xds: XDSService
    let store: any StateStore
    let modules: ModuleResolver
    let tokens: Tokens
    /// Saves the rejections `nodes` remembers.
    let rejections: StoredRejections
    /// Held while this runtime lives: one qpilot per data directory.
    let lock: DirectoryLock
    /// qpilot's certificate authority (see `ServerSettings.certificateAuthority`).
    public let authority: CertificateAuthority
    /// The certificates of intercepted names, minted when Envoy asks.
    public let certificates: LeafCertificates
    /// Join tokens, node certificates and revocation (issue 12).
    public let enrolment: NodeEnrolment
    /// qpilot's server certificate on the xDS and module ports; nil when xDS runs without TLS.
    public let serverCertificate: ServerCertificate?
    /// The module port's TLS, from `serverCertificate`: nodes enrol there, so it never falls
    /// back to plain HTTP.
    let moduleTLS: TLSConfiguration?
    let logger: Logger

    /// Loads and publishes the config once; throws when it is unusable, so a bad file (or tokens
    /// file) stops the start with its message rather than serving nothing.
    public init(configPath: String, logger: Logger) async throws {
        let url = URL(fileURLWithPath: configPath).standardizedFileURL
        let config = try QpilotConfig.load(url).config
        self.config = config
        self.logger = logger
        let server = config.server
        // Before any stream records a metric: swift-metrics drops what is recorded earlier.
        _ = QpilotMetrics.shared
        // The store and the secrets key live here: only qpilot's user may list or enter it.
        if !FileManager.default.fileExists(atPath: server.dataDir.path) {
            try FileManager.default.createDirectory(
                at: server.dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        lock = try DirectoryLock(directory: server.dataDir)
        let (tokens, created) = try Tokens.loadOrCreate(at: server.tokensFile)
        if created {
            logger.notice(
                "created an admin token; qctl reads it with --token-file", metadata: ["file": "\(server.tokensFile.path)"])
        }
        self.tokens = tokens
        let (authority, createdCA) = try server.certificateAuthority()
        self.authority = authority
        logger.log(
            level: createdCA ? .notice : .info, createdCA ? "created qpilot's CA; clients of intercepted HTTPS trust it" : "qpilot's CA",
            metadata: [
                "certificate": "\(server.tls.caCertFile?.path ?? server.caDirectory.appendingPathComponent(CertificateAuthority.certificateFile).path)",
                "sha256": "\(authority.fingerprint)",
            ])
        moduleStore = try ModuleStore(dataDirectory: server.dataDir)
        moduleCache = ModuleCache(store: moduleStore)
        if let shared = server.store {
            let location = try PostgresLocation(url: shared.url, passwordFile: shared.passwordFile)
            store = try await PostgresStateStore(location: location, directory: server.dataDir, logger: logger)
            logger.info("state in PostgreSQL", metadata: ["database": "\(location)"])
        } else {
            store = try SQLiteStateStore(directory: server.dataDir)
        }
        var credentials = RegistryCredentials()
        if let file = server.modules.credentialsFile { credentials = try RegistryCredentials.dockerConfig(at: file) }
        var limits = FetchLimits(
            maxModuleBytes: server.modules.maxModuleBytes, maxDecompressedBytes: server.modules.maxDecompressedBytes,
            timeout: .seconds(server.modules.fetchTimeoutSeconds))
        limits.allowPrivate = server.modules.allowPrivate
        modules = ModuleResolver(
            fetcher: ModuleFetcher(limits: limits, credentials: credentials), store: moduleStore,
            directory: url.deletingLastPathComponent(), sharedDir: server.modules.sharedDir,
            sourceDirs: server.modules.sourceDirs, logger: logger)
        cache = SnapshotCache()
        rejections = StoredRejections(store: store, logger: logger)
        nodes = NodeRegistry(remembered: try await StoredRejections.load(from: store), log: rejections)
        let versionKey = SymmetricKey(data: try await store.versionKey())
        writer = ChainWriter(
            configURL: url, loaded: config, cache: cache, store: store, modules: modules, moduleStore: moduleStore, logger: logger,
            versionKey: versionKey, moduleCA: server.xds.tlsEnabled ? authority.pem : nil, moduleCache: moduleCache)
        certificates = LeafCertificates(
            authority: authority, cache: cache, lifetime: TimeInterval(server.tls.leafLifetimeSeconds), versionKey: versionKey,
            logger: logger, reservedNames: server.xds.tlsEnabled ? server.serverCertificateNames : [])
        // A chain that cannot be built now (a module file gone, a registry down for a source not
        // fetched yet) does not keep qpilot down: the last good one is served, and said so.
        if case .failure(let error) = await writer.reload(), await !writer.serveLastGood(after: error) { throw error }
        enrolment = try await NodeEnrolment(
            authority: authority, store: store, lifetime: TimeInterval(server.xds.certificateLifetimeSeconds),
            enrolURL: "https://\(server.enrolAddress)", logger: logger)
        if server.xds.tlsEnabled {
            let certificate = try ServerCertificate(
                authority: authority, names: server.serverCertificateNames,
                lifetime: TimeInterval(server.xds.certificateLifetimeSeconds), logger: logger)
            serverCertificate = certificate
            moduleTLS = try TLSConfiguration.makeServerConfiguration(certificateReloader: certificate)
        } else {
            serverCertificate = nil
            moduleTLS = nil
        }
        let discovery = AggregatedDiscoveryServer(
            watcher: cache, onDemand: certificates,
            admission: server.xds.tlsEnabled ? CertificateAdmission(enrolment: enrolment, logger: logger) : nil,
            fetches: moduleFetches, nodes: nodes, logger: logger)
        enrolment.onRevoke { discovery.endStreams(ofNode: $0) }
        xds = try XDSService(
            address: server.xds.address, maxReceiveBytes: server.xds.maxReceiveBytes, discovery: discovery, tls: serverCertificate,
            logger: logger)
    }

    /// How often a replica on a shared store reads the store's generation, in case a notification
    /// of another replica's write was lost.
    static let storePoll = Duration.seconds(5)

    /// How long a graceful shutdown may take before the remaining work is cancelled.
    public static let shutdownGrace = Duration.seconds(5)

    /// The services, to run in one ServiceGroup.
    public func services() throws -> [any Service] {
        let server = config.server
        let writer = self.writer
        let fetches = moduleFetches
        let moduleRouter = ModuleEndpoint.router(
            store: moduleStore, ready: { writer.status.published }, cache: moduleCache,
            observer: { stream, digest, event in
                let seen: ModuleFetches.Event =
                    switch event {
                    case .started: .started
                    case .completed: .completed
                    case .failed(let reason): .failed(reason)
                    }
                fetches.record(query: stream, content: digest, seen)
            })
        var serverBuilder = HTTPServerSettings.http1(idleTimeout: HTTPServerSettings.idleTimeout)
        if let moduleTLS {
            EnrolRoutes.add(to: moduleRouter, enrolment: enrolment, xdsPort: server.xds.address.port)
            serverBuilder = try HTTPServerBuilder.tls(serverBuilder, tlsConfiguration: moduleTLS)
        }
        let moduleEndpoint = Application(
            router: moduleRouter, server: serverBuilder,
            configuration: .init(
                address: .hostname(server.modules.address.host, port: server.modules.address.port), serverName: "qpilot",
                backlog: ModuleEndpoint.backlog),
            logger: logger)
        let metrics = QpilotMetrics.shared
        // The admin API answers from a thread of its own, not behind a fan-out to every stream.
        let adminThread = DedicatedThread()
        let admin = AdminAPI.application(
            host: server.admin.address.host, port: server.admin.address.port, tokens: tokens,
            backend: AdminService(
                writer: writer, store: store, nodeRegistry: nodes, cache: cache, modules: modules, metricsRegistry: metrics,
                caPEM: authority.pem, certificates: certificates, enrolment: enrolment, enrolmentEnabled: server.xds.tlsEnabled),
            logger: logger, onResponse: { metrics.adminResponse(status: $0) }, eventLoopGroup: adminThread.group)
        var services: [any Service] = [
            xds, moduleEndpoint, ServiceOnThread(admin, thread: adminThread),
            ConfigWatchService(writer: writer, refresh: .seconds(server.modules.refreshSeconds)), rejections,
            RenewalService(every: certificates.lifetime / 10) { certificates.renew() },
        ]
        if let shared = store as? PostgresStateStore {
            services.append(StoreWatchService(store: shared, writer: writer, poll: Self.storePoll, logger: logger))
        }
        if let serverCertificate {
            services.append(RenewalService(every: serverCertificate.lifetime / 20) { serverCertificate.renewIfDue() })
        }
        return services
    }

    /// Runs until SIGTERM or SIGINT. Shutdown ends every ADS stream, so each Envoy reconnects to
    /// the next qpilot on this address; it is bounded, so a stop never hangs on a slow client.
    public func run() async throws {
        var configuration = ServiceGroupConfiguration(
            services: try services(), gracefulShutdownSignals: [.sigterm, .sigint], cancellationSignals: [], logger: logger)
        configuration.maximumGracefulShutdownDuration = Self.shutdownGrace
        let group = ServiceGroup(configuration: configuration)
        let server = config.server
        logger.info(
            "qpilot serving",
            metadata: [
                "xds": "\(server.xds.address)", "modules": "\(server.modules.address)", "admin": "\(server.admin.address)",
                "egress": "\(config.desired.egress.address):\(config.desired.egress.port)",
            ])
        if let serverCertificate {
            logger.info(
                "xDS and module ports use TLS; xDS clients need a certificate from qpilot's CA (qctl node token create, qpilot bootstrap --enroll)",
                metadata: ["names": "\(serverCertificate.names.joined(separator: ","))", "expires": "\(serverCertificate.expires)"])
        } else {
            logger.notice(
                "xDS runs without TLS: any process that reaches its address can read every fleet's config; set xds.tls: true to require enrolled nodes",
                metadata: ["xds": "\(server.xds.address)"])
        }
        try await group.run()
    }
}
