import Foundation
import Testing

extension Integration {
    @Suite("qpilot's CA")
    struct CertificateAuthorityIntegrationTests {
        /// `qpilot ca export` on the process's qpilot.yaml.
        static func exportOffline(_ directory: URL) throws -> (status: Int32, stdout: String, stderr: String) {
            let qpilot = Paths.repository.appendingPathComponent(".build/debug/qpilot").path
            let run = try shell("'\(qpilot)' ca export --config qpilot.yaml", in: directory)
            return (run.status, run.stdout, run.stderr)
        }

        @Test("one CA across kill -9 and restarts: qctl ca export (a read token), GET /v1/ca and qpilot ca export agree")
        func sameAcrossRestarts() async throws {
            let qpilot = try await QpilotProcess(middleware: nil)
            defer { qpilot.stop() }
            let first = try qpilot.qctl(["ca", "export"])
            #expect(first.status == 0, "\(first)")
            #expect(first.stdout.hasPrefix("-----BEGIN CERTIFICATE-----"), "\(first.stdout)")
            #expect(!first.stdout.contains("PRIVATE KEY"))
            #expect(qpilot.currentLog.contains("created qpilot's CA"))
            let keyMode = try FileManager.default.attributesOfItem(atPath: qpilot.directory.appendingPathComponent("data/ca/ca.key").path)[
                .posixPermissions] as? Int
            #expect(keyMode == 0o600)

            // A read-only token is enough: it is public.
            let tokens = qpilot.tokenFile
            let text = try String(contentsOf: tokens, encoding: .utf8)
            try (text + "0123456789abcdef0123456789abcdef read\n").write(to: tokens, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: tokens.path)

            qpilot.kill9()
            try await qpilot.start()
            #expect(!qpilot.currentLog.contains("created qpilot's CA"), "a restart made a new CA")
            let read = try curl(["-H", "Authorization: Bearer 0123456789abcdef0123456789abcdef", "\(qpilot.adminURL)/v1/ca"])
            #expect(read.status == 200)
            #expect(read.header("content-type") == ["application/x-pem-file"])
            #expect(read.body == first.stdout)
            #expect(try qpilot.qctl(["ca", "export"]).stdout == first.stdout)
            // Offline, beside the running server: the same file, nothing made.
            let offline = try Self.exportOffline(qpilot.directory)
            #expect(offline.status == 0, "\(offline.stderr)")
            #expect(offline.stdout == first.stdout)
            #expect(offline.stderr.isEmpty)
        }

        @Test("an operator's CA that is not a CA, or whose key is another's, stops qpilot with the setting named; a good one is served")
        func operatorCA() async throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-ca-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            // Two CAs made by qpilot itself, offline, in two data directories.
            for name in ["one", "two"] {
                try "dataDir: \(name)\n".write(to: directory.appendingPathComponent("qpilot.yaml"), atomically: true, encoding: .utf8)
                #expect(try Self.exportOffline(directory).status == 0)
            }
            let ports = StartupTests.ports
            let mismatched = try StartupTests.serve(
                ports + "dataDir: data\ntls: { caCertFile: \(directory.path)/one/ca/ca.crt, caKeyFile: \(directory.path)/two/ca/ca.key }\n")
            #expect(mismatched.status == 2, "\(mismatched.stderr)")
            #expect(mismatched.stderr.contains("tls.caKeyFile: \(directory.path)/two/ca/ca.key is not the key of"), "\(mismatched.stderr)")
            let notPEM = try StartupTests.serve(
                ports + "dataDir: data\ntls: { caCertFile: \(directory.path)/one/ca/ca.key, caKeyFile: \(directory.path)/one/ca/ca.key }\n")
            #expect(notPEM.status == 2, "\(notPEM.stderr)")
            #expect(notPEM.stderr.contains("tls.caCertFile:") && notPEM.stderr.contains("is not a PEM certificate"), "\(notPEM.stderr)")
            let half = try StartupTests.serve(ports + "dataDir: data\ntls: { caCertFile: \(directory.path)/one/ca/ca.crt }\n")
            #expect(half.status == 2)
            #expect(half.stderr.contains("give tls.caKeyFile too"), "\(half.stderr)")

            // A good one: qpilot ca export prints it, not a CA of its own.
            try "dataDir: data\ntls: { caCertFile: one/ca/ca.crt, caKeyFile: one/ca/ca.key }\n".write(
                to: directory.appendingPathComponent("qpilot.yaml"), atomically: true, encoding: .utf8)
            let exported = try Self.exportOffline(directory)
            #expect(exported.stdout == (try String(contentsOf: directory.appendingPathComponent("one/ca/ca.crt"), encoding: .utf8)))
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("data/ca").path))
        }
    }
}
