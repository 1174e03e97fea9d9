import Foundation
import QpilotServer

/// A stock Envoy 1.40 started from `qpilot bootstrap` output.
final class EnvoyProcess: @unchecked Sendable {
    let child: ChildProcess
    let adminPort: Int
    let nodeID: String

    convenience init(nodeID: String, fleet: String, xdsPort: Int, delta: Bool, directory: URL) async throws {
        let adminPort = try freePort()
        let bootstrap = Bootstrap(
            nodeID: nodeID, fleet: fleet, xds: HostPort(host: "127.0.0.1", port: xdsPort), delta: delta,
            adminPort: adminPort)
        try bootstrap.validate()
        let path = directory.appendingPathComponent("envoy-\(nodeID).yaml")
        try bootstrap.yaml.write(to: path, atomically: true, encoding: .utf8)
        try await self.init(bootstrap: path, nodeID: nodeID, adminPort: adminPort, directory: directory)
    }

    /// An Envoy from a bootstrap file; `adminPort` is the one the file names. With `ready: false`
    /// it waits only for the admin interface (an Envoy qpilot refuses never gets ready).
    init(bootstrap path: URL, nodeID: String, adminPort: Int, directory: URL, ready: Bool = true) async throws {
        self.nodeID = nodeID
        self.adminPort = adminPort
        child = try ChildProcess(
            Paths.envoy,
            ["-c", path.path, "--disable-hot-restart", "--concurrency", "1", "--log-level", "warning"],
            log: directory.appendingPathComponent("envoy-\(nodeID).log"))
        let adminPort = self.adminPort
        let child = self.child
        try await eventually("Envoy's admin on \(adminPort)", timeout: .seconds(30)) {
            guard child.process.isRunning else {
                throw HarnessError.failed("Envoy exited: \(child.log)")
            }
            let status = (try? curl(["http://127.0.0.1:\(adminPort)/ready"], timeout: 2))?.status
            return ready ? status == 200 : (status ?? 0) > 0
        }
    }

    /// One counter or gauge from /stats, or nil when absent.
    func stat(_ name: String) throws -> Int? {
        let result = try curl(["http://127.0.0.1:\(adminPort)/stats?filter=^\(name)$"])
        for line in result.body.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0] == name { return Int(parts[1].trimmingCharacters(in: .whitespaces)) }
        }
        return nil
    }

    /// /config_dump as text.
    func configDump() throws -> String {
        try curl(["http://127.0.0.1:\(adminPort)/config_dump"]).body
    }

    var log: String { child.log }

    func stop() { child.stop() }
}
