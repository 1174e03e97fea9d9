import Foundation
import QpilotAPI

/// `qpilot serve` as a separate process, for what in-process tests cannot do: `kill -9` and a
/// restart on the same data directory.
final class QpilotProcess: @unchecked Sendable {
    let directory: URL
    let xdsPort: Int
    let adminPort: Int
    let modulesPort: Int
    let egressPort: Int
    let upstream: EchoUpstream
    private(set) var child: ChildProcess?
    private(set) var starts = 0
    /// More top-level qpilot.yaml (such as `store:`), kept across rewrites.
    let extra: String
    /// The callout access log, by default in this qpilot's directory.
    let calloutLog: String
    /// The module endpoint Envoy is told about (`modules.publicAddress`): this qpilot's own, or
    /// that of the replica it was made like.
    let publicModules: String

    /// Writes qpilot.yaml and starts qpilot: store mode (no `middleware:` section) unless
    /// `middleware` gives the section's YAML lines (file mode).
    /// `prepare`, when given, runs on the new directory before the first start (to put a file in
    /// its data directory, such as another replica's secrets key).
    /// `replicaOf`, when given, is another qpilot on the same store whose Envoy config this one
    /// must build byte for byte: the same egress port, callout log and public module address.
    init(
        middleware: String? = nil, extra: String = "", replicaOf: QpilotProcess? = nil, prepare: ((URL) throws -> Void)? = nil
    ) async throws {
        self.extra = extra
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        calloutLog = replicaOf?.calloutLog ?? directory.appendingPathComponent("callout-access.log").path
        xdsPort = try freePort()
        adminPort = try freePort()
        modulesPort = try freePort()
        egressPort = try replicaOf?.egressPort ?? freePort()
        publicModules = replicaOf?.publicModules ?? "127.0.0.1:\(modulesPort)"
        upstream = try await EchoUpstream(directory: directory)
        try rewrite(middleware: middleware)
        try prepare?(directory)
        try await start()
    }

    /// Writes qpilot.yaml with this `middleware:` section (nil: store mode). A running qpilot
    /// notices within a second; `reload()` tells it at once.
    func rewrite(middleware: String?) throws {
        try QpilotHarness.config(
            xds: xdsPort, admin: adminPort, modules: modulesPort, egress: egressPort, extra: extra, middleware: middleware,
            modulesExtra: "publicAddress: \(publicModules)", calloutLog: calloutLog
        ).write(to: directory.appendingPathComponent("qpilot.yaml"), atomically: true, encoding: .utf8)
    }

    /// SIGHUP: reload qpilot.yaml now.
    func reload() {
        guard let child, child.process.isRunning else { return }
        kill(child.process.processIdentifier, SIGHUP)
    }

    /// One node as `qctl status --output json` shows it.
    func node(_ id: String) throws -> NodeView? {
        let result = try qctl(["status", "--output", "json"])
        return try result.json(NodeList.self).nodes.first { $0.nodeID == id }
    }

    /// The log of the current start only.
    var currentLog: String {
        (try? String(contentsOf: directory.appendingPathComponent("qpilot-\(starts).log"), encoding: .utf8)) ?? ""
    }

    /// Starts qpilot (again) and waits until it serves.
    func start() async throws {
        starts += 1
        let child = try ChildProcess(
            Paths.repository.appendingPathComponent(".build/debug/qpilot").path,
            ["serve", "--config", directory.appendingPathComponent("qpilot.yaml").path, "--log-level", "debug"],
            log: directory.appendingPathComponent("qpilot-\(starts).log"))
        self.child = child
        let modulesPort = self.modulesPort
        try await eventually("qpilot to serve", timeout: .seconds(30)) {
            guard child.process.isRunning else { throw HarnessError.failed("qpilot exited: \(child.log)") }
            return (try? curl(["http://127.0.0.1:\(modulesPort)/readyz"], timeout: 2))?.status == 200
        }
    }

    /// `kill -9`: no shutdown, no flush, nothing qpilot can do about it.
    func kill9() {
        guard let child, child.process.isRunning else { return }
        kill(child.process.processIdentifier, SIGKILL)
        child.process.waitUntilExit()
    }

    /// SIGTERM, as systemd stops a service: how long qpilot took to exit, and its exit status, or
    /// nil when it was still running after `limit` (it is then killed).
    func terminate(limit: Duration) -> (took: Duration, status: Int32)? {
        guard let child, child.process.isRunning else { return nil }
        let start = ContinuousClock.now
        kill(child.process.processIdentifier, SIGTERM)
        while child.process.isRunning, ContinuousClock.now - start < limit { usleep(20_000) }
        guard !child.process.isRunning else {
            kill9()
            return nil
        }
        child.process.waitUntilExit()
        return (ContinuousClock.now - start, child.process.terminationStatus)
    }

    /// Every log line qpilot wrote, across restarts.
    var logs: String {
        (1...max(starts, 1)).map {
            (try? String(contentsOf: directory.appendingPathComponent("qpilot-\($0).log"), encoding: .utf8)) ?? ""
        }.joined(separator: "\n")
    }

    var adminURL: String { "http://127.0.0.1:\(adminPort)" }
    var tokenFile: URL { directory.appendingPathComponent("data/admin-tokens") }

    func qctl(_ arguments: [String], stdin: String? = nil, timeout: TimeInterval = 60) throws -> QctlResult {
        try runQctl(arguments + ["--server", adminURL, "--token-file", tokenFile.path], stdin: stdin, timeout: timeout)
    }

    func startEnvoy(nodeID: String = "envoy-1", delta: Bool = false) async throws -> EnvoyProcess {
        try await EnvoyProcess(nodeID: nodeID, fleet: "default", xdsPort: xdsPort, delta: delta, directory: directory)
    }

    /// The values of one request header as the echo upstream saw it, for a request through Envoy.
    func echoedHeaders(_ name: String) throws -> [String] {
        try QpilotHarness.headerValues(proxied(), name)
    }

    func proxied(_ path: String = "/hello") throws -> HTTPResult {
        try curl(["-x", "http://127.0.0.1:\(egressPort)", "http://\(upstream.authority)\(path)"])
    }

    func stop() {
        child?.stop()
        upstream.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}
