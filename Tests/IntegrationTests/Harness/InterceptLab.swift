import Foundation
import PKI
import QpilotServer

/// A network namespace of its own for the HTTPS interception tests: its hosts file gives the
/// test's host names to 127.0.0.1 (the machine's /etc/hosts is never touched), and qpilot, Envoy,
/// an HTTPS origin and every client run inside it, so all traffic stays on the namespace's
/// loopback and fixed ports cannot collide with anything else.
///
/// The origin serves, by SNI: `api.test.example`, `plain.test.example` and
/// `other.test.example` with certificates from the origin CA (trusted through tls.upstreamCA);
/// `untrusted.test.example` with one from a CA nobody trusts; `wrongsan.test.example` with
/// api's certificate, whose SAN does not name it.
final class InterceptLab: @unchecked Sendable {
    static let hosts = [
        "api.test.example", "plain.test.example", "other.test.example", "untrusted.test.example", "wrongsan.test.example",
    ]
    static let egressPort = 10000
    static let adminPort = 18001
    static let envoyAdminPort = 9901

    let namespace: String
    let directory: URL
    private(set) var qpilot: ChildProcess?
    private(set) var envoy: ChildProcess?
    private var origin: ChildProcess?

    /// The CA clients trust for intercepted names (qpilot's own, made at its first start).
    var qpilotCA: URL { directory.appendingPathComponent("data/ca/ca.crt") }
    /// The CA of the origin's certificates, as a client of a tunnel trusts it.
    var originCA: URL { directory.appendingPathComponent("origin-ca.pem") }
    var originLog: URL { directory.appendingPathComponent("origin-requests.jsonl") }

    /// `middleware: nil` writes no `middleware:` section: store mode.
    init(tls: String, middleware: String?) async throws {
        namespace = "qpilot-it-\(UUID().uuidString.prefix(6).lowercased())"
        directory = FileManager.default.temporaryDirectory.appendingPathComponent(namespace)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Self.run(["ip", "netns", "add", namespace])
        let etc = URL(fileURLWithPath: "/etc/netns/\(namespace)")
        try FileManager.default.createDirectory(at: etc, withIntermediateDirectories: true)
        try "127.0.0.1 localhost \(Self.hosts.joined(separator: " "))\n::1 localhost\n"
            .write(to: etc.appendingPathComponent("hosts"), atomically: true, encoding: .utf8)
        try Self.run(["ip", "-n", namespace, "link", "set", "lo", "up"])
        try writeOriginCertificates()
        origin = try inside(
            "/usr/bin/python3",
            [Paths.repository.appendingPathComponent("Tests/Fixtures/https-origin.py").path, "443", originLog.path]
                + ["api", "plain", "other", "untrusted"].map { name in
                    "\(name).test.example=\(file("\(name).pem").path),\(file("\(name).key").path)"
                } + ["wrongsan.test.example=\(file("api.pem").path),\(file("api.key").path)"],
            log: "origin")
        try rewrite(tls: tls, middleware: middleware)
        try await startQpilot()
    }

    private var qpilotStarts = 0

    /// Starts qpilot (again, after `stopQpilot`) on the same data directory, and waits until it serves.
    func startQpilot() async throws {
        qpilotStarts += 1
        qpilot = try inside(
            Paths.repository.appendingPathComponent(".build/debug/qpilot").path,
            ["serve", "--config", file("qpilot.yaml").path, "--log-level", "debug"], log: "qpilot-\(qpilotStarts)")
        try await eventually("qpilot to serve in \(namespace)", timeout: .seconds(30)) {
            guard self.qpilot?.process.isRunning == true else { throw HarnessError.failed("qpilot exited: \(self.qpilotLog)") }
            return (try? self.curl(["http://127.0.0.1:18002/readyz"], timeout: 2))?.status == 200
        }
    }

    func stopQpilot() { qpilot?.stop() }

    func file(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// qpilot.yaml with this `tls:` section (indented lines) and `middleware:` section.
    func rewrite(tls: String, middleware: String?) throws {
        let text = """
            xds: { address: 127.0.0.1:18000 }
            admin: { address: 127.0.0.1:\(Self.adminPort) }
            modules: { address: 127.0.0.1:18002 }
            dataDir: ./data
            egress: { address: 127.0.0.1, port: \(Self.egressPort), accessLog: ./egress-access.log, allowInternal: ["127.0.0.1:443"] }
            callout: { accessLog: ./callout-access.log }
            tls:
            \(tls)
            \(middleware.map { "middleware:\n\($0)" } ?? "")

            """
        try text.write(to: file("qpilot.yaml"), atomically: true, encoding: .utf8)
    }

    /// Starts Envoy (SotW, or Delta) inside the namespace and waits until it is ready.
    func startEnvoy(delta: Bool = false) async throws {
        envoy?.stop()
        let bootstrap = Bootstrap(
            nodeID: "envoy-tls", fleet: "default", xds: HostPort(host: "127.0.0.1", port: 18000), delta: delta,
            adminPort: Self.envoyAdminPort)
        try bootstrap.validate()
        try bootstrap.yaml.write(to: file("envoy.yaml"), atomically: true, encoding: .utf8)
        envoy = try inside(
            Paths.envoy, ["-c", file("envoy.yaml").path, "--disable-hot-restart", "--concurrency", "1", "--log-level", "warning"],
            log: "envoy")
        try await eventually("Envoy in \(namespace)", timeout: .seconds(30)) {
            guard self.envoy?.process.isRunning == true else { throw HarnessError.failed("Envoy exited: \(self.envoy?.log ?? "")") }
            return (try? self.curl(["http://127.0.0.1:\(Self.envoyAdminPort)/ready"], timeout: 2))?.status == 200
        }
    }

    /// curl inside the namespace.
    func curl(_ arguments: [String], timeout: Int = 10) throws -> HTTPResult {
        try IntegrationTests.curl(arguments, timeout: timeout, namespace: namespace)
    }

    /// An HTTPS request through the egress listener, trusting `ca`.
    func https(_ url: String, ca: URL? = nil, extra: [String] = []) throws -> HTTPResult {
        try curl(["--cacert", (ca ?? qpilotCA).path, "-x", "http://127.0.0.1:\(Self.egressPort)"] + extra + [url])
    }

    /// curl's exit code and the error it printed, for requests that must fail.
    func failingCurl(_ arguments: [String]) throws -> (code: Int32, error: String, took: TimeInterval) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, "curl", "-sS", "--max-time", "10", "-o", "/dev/null"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text, Date().timeIntervalSince(start))
    }

    /// A counter from Envoy's /stats, or nil when absent.
    func envoyStat(_ name: String) throws -> Int? {
        let result = try curl(["http://127.0.0.1:\(Self.envoyAdminPort)/stats?filter=^\(name)$"])
        for line in result.body.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0] == name { return Int(parts[1].trimmingCharacters(in: .whitespaces)) }
        }
        return nil
    }

    /// What reached the origin, one record per request.
    struct OriginRequest: Decodable {
        var host: String
        var path: String
        var headers: [[String]]
        var body: String

        func header(_ name: String) -> [String] { headers.filter { $0.first == name }.compactMap { $0.last } }
    }

    func originRequests() throws -> [OriginRequest] {
        guard let text = try? String(contentsOf: originLog, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { try JSONDecoder().decode(OriginRequest.self, from: Data($0.utf8)) }
    }

    var qpilotLog: String { qpilot?.log ?? "" }

    /// qctl inside the namespace, against this qpilot, with its admin token; throws with its
    /// output when it fails.
    func qctl(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments =
            ["netns", "exec", namespace, Paths.repository.appendingPathComponent(".build/debug/qctl").path] + arguments
            + ["--server", "http://127.0.0.1:\(Self.adminPort)", "--token-file", file("data/admin-tokens").path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        lastQctlOutput = text
        guard process.terminationStatus == 0 else { throw HarnessError.failed("qctl \(arguments): \(text)") }
        return text
    }

    /// What the last qctl run printed.
    private(set) var lastQctlOutput = ""

    /// Runs `fixture` (a Python script in Tests/Fixtures) inside the namespace; its standard output.
    func python(_ fixture: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = ["netns", "exec", namespace, "python3", Paths.repository.appendingPathComponent("Tests/Fixtures/\(fixture)").path]
            + arguments
        let out = Pipe()
        let errors = Pipe()
        process.standardOutput = out
        process.standardError = errors
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError.failed("\(fixture) failed: \(problem)") }
        return text
    }

    func stop() {
        envoy?.stop()
        qpilot?.stop()
        origin?.stop()
        try? Self.run(["ip", "netns", "del", namespace])
        try? FileManager.default.removeItem(at: URL(fileURLWithPath: "/etc/netns/\(namespace)"))
    }

    deinit { stop() }

    private func inside(_ executable: String, _ arguments: [String], log: String) throws -> ChildProcess {
        try ChildProcess("/usr/sbin/ip", ["netns", "exec", namespace, executable] + arguments, log: file("\(log).log"))
    }

    /// The origin CA and its certificates, and a second CA that nobody trusts, made with the same
    /// PKI code qpilot uses.
    private func writeOriginCertificates() throws {
        let trusted = try CertificateAuthority.create(commonName: "test origin CA")
        let stranger = try CertificateAuthority.create(commonName: "untrusted test CA")
        try trusted.pem.write(to: originCA, atomically: true, encoding: .utf8)
        for (name, authority) in [("api", trusted), ("plain", trusted), ("other", trusted), ("untrusted", stranger)] {
            let leaf = try authority.issue(for: "\(name).test.example", lifetime: 3600)
            try leaf.certificatePEM.write(to: file("\(name).pem"), atomically: true, encoding: .utf8)
            try leaf.privateKeyPEM.write(to: file("\(name).key"), atomically: true, encoding: .utf8)
        }
    }

    private static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError.failed("\(arguments.joined(separator: " ")): \(text)") }
    }
}
