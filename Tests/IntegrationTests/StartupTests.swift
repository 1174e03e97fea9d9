import Foundation
import Testing

extension Integration {
    /// `qpilot serve` refusing to start: a bad file stops it with exit code 2 and a message that
    /// names the file and the problem, before it binds a port.
    @Suite("Start refusals")
    struct StartupTests {
        /// Runs `qpilot serve` on a qpilot.yaml in a fresh directory, after `prepare`.
        static func serve(_ yaml: String, prepare: (URL) throws -> Void = { _ in }) throws -> (status: Int32, stderr: String) {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-start-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            try yaml.write(to: directory.appendingPathComponent("qpilot.yaml"), atomically: true, encoding: .utf8)
            try prepare(directory)
            let qpilot = Paths.repository.appendingPathComponent(".build/debug/qpilot").path
            let run = try shell("timeout 30 '\(qpilot)' serve --config qpilot.yaml", in: directory)
            return (run.status, run.stderr)
        }

        static let ports = "xds: {address: 127.0.0.1:0}\nadmin: {address: 127.0.0.1:0}\nmodules: {address: 127.0.0.1:0}\n"

        @Test("a malformed tokens file exits 2 and names the line")
        func malformedTokens() throws {
            let run = try Self.serve(Self.ports + "dataDir: data\n") { directory in
                let data = directory.appendingPathComponent("data")
                try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
                try "just-one-field\n".write(to: data.appendingPathComponent("admin-tokens"), atomically: true, encoding: .utf8)
            }
            #expect(run.status == 2, "\(run.stderr)")
            #expect(run.stderr.contains("qpilot: qpilot.yaml:"), "\(run.stderr)")
            #expect(run.stderr.contains("line 1: expected 'TOKEN ROLE'"), "\(run.stderr)")
        }

        @Test("an egress address that is not an IP exits 2: Envoy would refuse the listener on every node")
        func egressHostname() throws {
            let run = try Self.serve(Self.ports + "dataDir: data\negress: {address: myhost}\n")
            #expect(run.status == 2, "\(run.stderr)")
            #expect(run.stderr.contains("line 5: egress.address: the egress listener binds an IP address"), "\(run.stderr)")
        }
    }
}
