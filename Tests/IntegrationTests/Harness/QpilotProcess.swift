import Foundation

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

    /// Writes a store-mode qpilot.yaml (no `middleware:` section) and starts qpilot.
    init() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-proc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        xdsPort = try freePort()
        adminPort = try freePort()
        modulesPort = try freePort()
        egressPort = try freePort()
        upstream = try await EchoUpstream(directory: directory)
        try QpilotHarness.config(
            xds: xdsPort, admin: adminPort, modules: modulesPort, egress: egressPort, extra: "", middleware: nil
        ).write(to: directory.appendingPathComponent("qpilot.yaml"), atomically: true, encoding: .utf8)
        try await start()
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

    func qctl(_ arguments: [String], timeout: TimeInterval = 60) throws -> QctlResult {
        try runQctl(arguments + ["--server", adminURL, "--token-file", tokenFile.path], timeout: timeout)
    }

    func startEnvoy(nodeID: String = "envoy-1") async throws -> EnvoyProcess {
        try await EnvoyProcess(nodeID: nodeID, fleet: "default", xdsPort: xdsPort, delta: false, directory: directory)
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
