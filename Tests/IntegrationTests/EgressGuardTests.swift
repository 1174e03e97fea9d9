import Foundation
import QpilotServer
import Testing

extension Integration {
    @Suite("Internal destinations behind the egress listener")
    struct EgressGuardTests {
        /// The CONNECT response code that curl saw (curl itself fails when the tunnel is refused).
        static func connectStatus(proxy: Int, target: String) throws -> Int {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "curl", "-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_connect}", "-p", "-x", "http://127.0.0.1:\(proxy)",
                target,
            ]
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        }

        @Test("Envoy's admin port, other loopback services and metadata get 403 through egress and callouts, however the host is spelt; an allowed destination works")
        func internalDestinationsRefused() async throws {
            try await withHarness(middleware: "") { qpilot in
                let envoy = try await qpilot.startEnvoy()
                let admin = "127.0.0.1:\(envoy.adminPort)"
                // Only the upstream is allowed; the callout middleware calls Envoy's admin port.
                let generation = qpilot.generation
                let config = QpilotHarness.config(
                    xds: qpilot.xdsPort, admin: qpilot.adminPort, modules: qpilot.modulesPort, egress: qpilot.egressPort,
                    extra: "",
                    middleware: [
                        entry("caller", module: "callout", config: admin, extra: ["priority: 20"]),
                        entry("marker", config: "marked", extra: ["priority: 10"]),
                    ].joined(separator: "\n"))
                #expect(config.contains("allowInternal: [127.0.0.0/8]"))
                try qpilot.rewrite(
                    raw: config.replacingOccurrences(
                        of: "allowInternal: [127.0.0.0/8]", with: "allowInternal: [\"\(qpilot.upstream.authority)\"]"))
                try await qpilot.waitForGeneration(after: generation)

                // The allowed upstream works, with the middleware; the callout to the admin port is refused.
                var allowed = try qpilot.proxied("/hello")
                try await eventually("Envoy to take the new chain") {
                    allowed = try qpilot.proxied("/hello")
                    return (try? qpilot.echoedHeaders(allowed, "x-qpilot-config")) == ["marked"]
                }
                #expect(allowed.status == 200)
                #expect(try qpilot.echoedHeaders(allowed, "x-callout-status") == ["403"], "the callout reached Envoy's admin port")

                // Plain requests: refused before any middleware runs (add-header marks every
                // response that passes it, and the 403 has no mark).
                for target in [
                    "http://\(admin)/config_dump", "http://localhost:\(envoy.adminPort)/ready",
                    "http://[::ffff:127.0.0.1]:\(envoy.adminPort)/ready", "http://127.0.0.1:\(qpilot.modulesPort)/readyz",
                    "http://169.254.169.254/latest/meta-data/", "http://0.0.0.0:\(envoy.adminPort)/ready",
                ] {
                    let result = try curl(["-x", "http://127.0.0.1:\(qpilot.egressPort)", target])
                    #expect(result.status == 403, "\(target): \(result.status) \(result.body.prefix(200))")
                    #expect(result.header("x-qpilot-middleware").isEmpty, "\(target): a middleware ran on a refused request")
                    #expect(!result.body.contains("dynamic_active_clusters"))
                }
                // Host-routed and CONNECT alike.
                let routed = try curl(["-H", "Host: \(admin)", "http://127.0.0.1:\(qpilot.egressPort)/ready"])
                #expect(routed.status == 403)
                #expect(try Self.connectStatus(proxy: qpilot.egressPort, target: "http://\(admin)/ready") == 403)
                #expect(try Self.connectStatus(proxy: qpilot.egressPort, target: "http://\(qpilot.upstream.authority)/t") == 200)

                #expect(try envoy.stat("http.qpilot_egress.rbac.denied").map { $0 >= 8 } == true)
                #expect(try envoy.stat("http.qpilot_callout.rbac.denied").map { $0 >= 1 } == true)
                // Envoy is still up: /quitquitquit was one request away before.
                #expect(try curl(["http://\(admin)/ready"]).status == 200)
            }
        }
    }
}
