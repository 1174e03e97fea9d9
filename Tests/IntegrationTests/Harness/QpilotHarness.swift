import Foundation
import QpilotAPI
import Logging
import QpilotServer
import ServiceLifecycle
import Testing
import XDS

/// qpilot running in-process with its real services (gRPC ADS on a loopback port, the module
/// endpoint, the file watcher), plus one echo upstream and any number of Envoys.
final class QpilotHarness: @unchecked Sendable {
    let directory: URL
    let configURL: URL
    let xdsPort: Int
    let adminPort: Int
    let modulesPort: Int
    let egressPort: Int
    let upstream: EchoUpstream
    let runtime: QpilotRuntime
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    private(set) var envoys: [EnvoyProcess] = []

    let modulesExtra: String
    let xdsExtra: String

    /// - Parameters:
    ///   - middleware: the `middleware:` section, as YAML lines (without the key); nil leaves the
    ///     section out, so the store (the admin API) is the source of truth.
    ///   - tokens: the admin tokens file's content; nil lets qpilot create one.
    ///   - xdsExtra: more `xds:` settings (`tls: true`); with TLS the module port speaks HTTPS.
    init(middleware: String?, extra: String = "", modulesExtra: String = "", xdsExtra: String = "", tokens: String? = nil) async throws {
        self.modulesExtra = modulesExtra
        self.xdsExtra = xdsExtra
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if let tokens {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
            let file = directory.appendingPathComponent("data/admin-tokens")
            try tokens.write(to: file, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        }
        configURL = directory.appendingPathComponent("qpilot.yaml")
        xdsPort = try freePort()
        adminPort = try freePort()
        modulesPort = try freePort()
        egressPort = try freePort()
        upstream = try await EchoUpstream(directory: directory)
        try Self.config(
            xds: xdsPort, admin: adminPort, modules: modulesPort, egress: egressPort, extra: extra, middleware: middleware,
            modulesExtra: modulesExtra, xdsExtra: xdsExtra)
            .write(to: configURL, atomically: true, encoding: .utf8)
        var logger = Logger(label: "qpilot-it")
        logger.logLevel = .warning
        runtime = try await QpilotRuntime(configPath: configURL.path, logger: logger)
        group = ServiceGroup(services: try runtime.services(), gracefulShutdownSignals: [], logger: logger)
        let group = self.group
        task = Task { try await group.run() }
        let readyz = modulesURL + "/readyz"
        try await eventually("qpilot's module endpoint") {
            (try? curl(["-k", readyz], timeout: 2))?.status == 200
        }
    }

    /// The module port: HTTPS when xDS runs with TLS.
    var modulesURL: String { "\(runtime.serverCertificate == nil ? "http" : "https")://127.0.0.1:\(modulesPort)" }

    static func config(
        xds: Int, admin: Int, modules: Int, egress: Int, extra: String, middleware: String?, modulesExtra: String = "",
        xdsExtra: String = "", calloutLog: String = "./callout-access.log"
    ) -> String {
        """
        xds: { address: 127.0.0.1:\(xds)\(xdsExtra.isEmpty ? "" : ", " + xdsExtra) }
        admin: { address: 127.0.0.1:\(admin) }
        modules: { address: 127.0.0.1:\(modules), sharedDir: ./shared, sourceDirs: [/]\(modulesExtra.isEmpty ? "" : ", " + modulesExtra) }
        dataDir: ./data
        egress: { address: 127.0.0.1, port: \(egress), allowInternal: [127.0.0.0/8] }
        callout: { accessLog: \(calloutLog) }
        \(extra)
        \(middleware.map { "middleware:\n\($0)" } ?? "")

        """
    }

    /// The admin API's address, for qctl and curl.
    var adminURL: String { "http://127.0.0.1:\(adminPort)" }

    /// The admin token qpilot created (or the first in the tokens file given).
    var adminTokenFile: URL { directory.appendingPathComponent("data/admin-tokens") }

    var adminToken: String {
        let text = (try? String(contentsOf: adminTokenFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { !$0.hasPrefix("#") && !$0.isEmpty }.map { String($0.split(separator: " ")[0]) } ?? ""
    }

    /// qctl run as a binary against this qpilot.
    func qctl(_ arguments: [String], timeout: TimeInterval = 60) throws -> QctlResult {
        try runQctl(arguments + ["--server", adminURL, "--token-file", adminTokenFile.path], timeout: timeout)
    }

    /// A request to the admin API with the admin token (or `token`).
    func api(_ method: String, _ path: String, body: String? = nil, token: String? = nil, headers: [String] = []) throws -> HTTPResult {
        var arguments = ["-X", method, "-H", "Authorization: Bearer \(token ?? adminToken)"]
        for header in headers { arguments += ["-H", header] }
        if let body { arguments += ["-H", "Content-Type: application/json", "--data-binary", body] }
        return try curl(arguments + ["\(adminURL)\(path)"])
    }

    /// Rewrites qpilot.yaml's middleware section; the running qpilot notices by itself.
    func rewrite(middleware: String?, extra: String = "") throws {
        let text = Self.config(
            xds: xdsPort, admin: adminPort, modules: modulesPort, egress: egressPort, extra: extra, middleware: middleware,
            modulesExtra: modulesExtra, xdsExtra: xdsExtra)
        try text.write(to: configURL, atomically: true, encoding: .utf8)
    }

    /// Rewrites qpilot.yaml with arbitrary text.
    func rewrite(raw: String) throws {
        try raw.write(to: configURL, atomically: true, encoding: .utf8)
    }

    /// Starts an Envoy from `qpilot bootstrap` output, and waits until the egress listener works.
    @discardableResult
    func startEnvoy(nodeID: String = "envoy-1", fleet: String = "default", delta: Bool = false) async throws -> EnvoyProcess {
        let envoy = try await EnvoyProcess(nodeID: nodeID, fleet: fleet, xdsPort: xdsPort, delta: delta, directory: directory)
        envoys.append(envoy)
        try await eventually("node \(nodeID) to be in sync", timeout: .seconds(30)) { self.isInSync(nodeID) }
        return envoy
    }

    /// Starts an Envoy from a bootstrap file someone else wrote (`qpilot bootstrap --enroll`).
    @discardableResult
    func startEnvoy(bootstrap: URL, nodeID: String, adminPort: Int, ready: Bool = true) async throws -> EnvoyProcess {
        let envoy = try await EnvoyProcess(bootstrap: bootstrap, nodeID: nodeID, adminPort: adminPort, directory: directory, ready: ready)
        envoys.append(envoy)
        return envoy
    }

    /// A request through the egress listener as an explicit proxy (`curl -x`).
    func proxied(_ path: String = "/hello", extra: [String] = []) throws -> HTTPResult {
        try curl(["-x", "http://127.0.0.1:\(egressPort)"] + extra + ["http://\(upstream.authority)\(path)"])
    }

    /// The upstream's view of a request made through Envoy: its headers, in order.
    func echoedHeaders(_ result: HTTPResult, _ name: String) throws -> [String] {
        try Self.headerValues(result, name)
    }

    /// The values of one header in the echo upstream's answer.
    static func headerValues(_ result: HTTPResult, _ name: String) throws -> [String] {
        struct Echo: Decodable { var headers: [[String]] }
        let echo = try JSONDecoder().decode(Echo.self, from: Data(result.body.utf8))
        return echo.headers.filter { $0.first == name }.map { $0[1] }
    }

    func status(_ nodeID: String) -> NodeStatus? { runtime.nodes.status(of: nodeID) }

    func isInSync(_ nodeID: String, fleet: String = "default") -> Bool {
        guard let status = status(nodeID) else { return false }
        let snapshot = runtime.cache.snapshot(for: status.fleet)
        // Every type the snapshot has resources of was ACKed (a chain with no middleware has no
        // ECDS resource, and Envoy subscribes to none).
        return status.syncState(against: snapshot) == .inSync
            && (snapshot?.versionsOfNonEmptyTypes ?? [:]).keys.allSatisfy { status.acked[$0] != nil }
    }

    /// Waits until the reconciler has published a generation newer than `after`.
    func waitForGeneration(after generation: Int) async throws {
        try await eventually("qpilot to publish the new config") { self.runtime.writer.status.generation > generation }
    }

    var generation: Int { runtime.writer.status.generation }

    /// Logs of every part, for a failing test's message.
    var logs: String {
        envoys.map { "--- envoy \($0.nodeID)\n\($0.log.suffix(4000))" }.joined(separator: "\n")
    }

    func stop() async {
        for envoy in envoys { envoy.stop() }
        upstream.stop()
        await group.triggerGracefulShutdown()
        _ = try? await task.value
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A middleware entry for qpilot.yaml.
func entry(
    _ name: String, module: String = "add-header", config: String = "", extra: [String] = []
) -> String {
    var lines = ["  - name: \(name)", "    source: \(Paths.wasm(module).path)"]
    if !config.isEmpty { lines.append("    config: \(config)") }
    lines += extra.map { "    \($0)" }
    return lines.joined(separator: "\n")
}

/// Runs `body` against a fresh qpilot, and always stops it and its Envoys afterwards.
func withHarness(
    middleware: String?, extra: String = "", modulesExtra: String = "", xdsExtra: String = "", tokens: String? = nil,
    _ body: (QpilotHarness) async throws -> Void,
    catchingSetup: ((any Error) -> Void)? = nil
) async throws {
    let qpilot: QpilotHarness
    do {
        qpilot = try await QpilotHarness(
            middleware: middleware, extra: extra, modulesExtra: modulesExtra, xdsExtra: xdsExtra, tokens: tokens)
    } catch {
        guard let catchingSetup else { throw error }
        catchingSetup(error)
        return
    }
    if catchingSetup != nil { Issue.record("qpilot started, but a setup error was expected") }
    do {
        try await body(qpilot)
    } catch {
        Issue.record("logs at failure:\n\(qpilot.logs)")
        await qpilot.stop()
        throw error
    }
    await qpilot.stop()
}
