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
                let file = data.appendingPathComponent("admin-tokens")
                try "just-one-field\n".write(to: file, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
            }
            #expect(run.status == 2, "\(run.stderr)")
            #expect(run.stderr.contains("qpilot: qpilot.yaml:"), "\(run.stderr)")
            #expect(run.stderr.contains("line 1: expected 'TOKEN ROLE'"), "\(run.stderr)")
        }

        @Test("a tokens file other users can read exits 2 and says how to fix it; one qpilot cannot read is not replaced")
        func tokensFileMode() throws {
            let token = "0123456789abcdef0123456789abcdef admin\n"
            let open = try Self.serve(Self.ports + "dataDir: data\n") { directory in
                let data = directory.appendingPathComponent("data")
                try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
                try token.write(to: data.appendingPathComponent("admin-tokens"), atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: data.appendingPathComponent("admin-tokens").path)
            }
            #expect(open.status == 2, "\(open.stderr)")
            #expect(open.stderr.contains("can be read by other users (mode 644)") && open.stderr.contains("chmod 600"), "\(open.stderr)")

            // A directory where the file should be cannot be read as one: refused, and left as it is.
            let unreadable = try Self.serve(Self.ports + "dataDir: data\n") { directory in
                let path = directory.appendingPathComponent("data/admin-tokens")
                try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
                try token.write(to: path.appendingPathComponent("inside"), atomically: true, encoding: .utf8)
            }
            #expect(unreadable.status == 2, "\(unreadable.stderr)")
            #expect(unreadable.stderr.contains("does not replace a tokens file it cannot read"), "\(unreadable.stderr)")
        }

        @Test("an egress address that is not an IP exits 2: Envoy would refuse the listener on every node")
        func egressHostname() throws {
            let run = try Self.serve(Self.ports + "dataDir: data\negress: {address: myhost}\n")
            #expect(run.status == 2, "\(run.stderr)")
            #expect(run.stderr.contains("line 5: egress.address: the egress listener binds an IP address"), "\(run.stderr)")
        }

        @Test("a second qpilot on the same data directory exits 2 and names the first; rotate-key refuses too, even with --force")
        func secondOnSameDirectory() async throws {
            let first = try await QpilotProcess()
            defer { first.stop() }
            let pid = try #require(first.child?.process.processIdentifier)
            let qpilot = Paths.repository.appendingPathComponent(".build/debug/qpilot").path
            let second = try shell("timeout 30 '\(qpilot)' serve --config qpilot.yaml", in: first.directory)
            #expect(second.status == 2, "\(second.stderr)")
            #expect(second.stderr.contains("another qpilot (pid \(pid)) is using the data directory"), "\(second.stderr)")
            let rotate = try shell("timeout 30 '\(qpilot)' rotate-key --config qpilot.yaml --force", in: first.directory)
            #expect(rotate.status == 1, "\(rotate.stderr)")
            #expect(rotate.stderr.contains("another qpilot (pid \(pid))"), "\(rotate.stderr)")
            #expect(try first.qctl(["get"]).status == 0, "the first qpilot still serves")
        }
    }
}
