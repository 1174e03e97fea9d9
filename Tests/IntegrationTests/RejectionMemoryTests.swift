import Foundation
import QpilotAPI
import QpilotTestSupport
import Testing

extension Integration {
    /// Envoy 1.40 skips an ECDS config identical to the last one it received, even one it
    /// rejected, and ACKs it without building it. These run the sequences that once made status
    /// lie, against a real Envoy and a qpilot process killed with SIGKILL.
    @Suite("Status after a NACK: reconnects, restarts, one middleware at a time")
    struct RejectionMemoryTests {
        /// Whether the current qpilot process logged an ACK of a response that carried `resource`.
        static func ackedAfterStart(_ qpilot: QpilotProcess, _ resource: String) -> Bool {
            qpilot.currentLog.split(separator: "\n").contains { line in
                line.hasSuffix(" ack") && line.contains("resources=") && line.contains(resource)
            }
        }

        @Test(
            "A NACKed config stays nacked after kill -9 and a restart, although Envoy ACKs the identical re-send; a fix then syncs",
            arguments: [false, true])
        func nackSurvivesRestart(delta: Bool) async throws {
            let guardEntry = { (config: String) in entry("guard", config: config, extra: ["delivery: inline"]) }
            let qpilot = try await QpilotProcess(middleware: guardEntry("good"))
            defer { qpilot.stop() }
            let envoy = try await qpilot.startEnvoy(delta: delta)
            defer { envoy.stop() }
            try await eventually("Envoy in sync", timeout: .seconds(30)) { try qpilot.node("envoy-1")?.state == .inSync }
            #expect(try qpilot.echoedHeaders("x-qpilot-config") == ["good"])

            // File mode: the module's proxy_on_configure refuses a config containing "reject".
            try qpilot.rewrite(middleware: guardEntry("reject-me"))
            qpilot.reload()
            try await eventually("Envoy to NACK", timeout: .seconds(30)) { try qpilot.node("envoy-1")?.state == .nacked }
            let refused = try #require(try qpilot.node("envoy-1")?.middleware.only)
            #expect(refused.name == "guard")
            #expect(refused.state == SyncState.nacked)
            #expect(refused.rejected?.message.contains("Unable to create Wasm plugin") == true, "\(refused)")
            #expect(refused.rejected?.version == refused.desired)
            #expect(refused.rejected?.serving != nil && refused.rejected?.serving == refused.acked, "it runs the good config")
            #expect(try qpilot.echoedHeaders("x-qpilot-config") == ["good"])

            qpilot.kill9()
            try await qpilot.start()
            // Envoy reconnects and qpilot sends the same config; Envoy skips it and ACKs.
            try await eventually("Envoy to reconnect and ACK the re-sent config", timeout: .seconds(30)) {
                Self.ackedAfterStart(qpilot, "qpilot.middleware.guard")
            }
            let after = try #require(try qpilot.node("envoy-1"))
            #expect(after.connected)
            #expect(after.state == .nacked, "still refused: \(after)")
            #expect(after.middleware.only?.rejected?.version == refused.rejected?.version)
            #expect(after.middleware.only?.acked == refused.acked, "what it runs is still the good config")
            #expect(try qpilot.echoedHeaders("x-qpilot-config") == ["good"])
            let status = try qpilot.qctl(["status"])
            #expect(status.status == 1, "status exits 1 while a node refuses its config")
            #expect(status.stdout.contains("guard rejected"), "\(status.stdout)")

            // The fix is applied and clears the refusal, also from the store.
            try qpilot.rewrite(middleware: guardEntry("fixed"))
            qpilot.reload()
            try await eventually("Envoy to apply the fix", timeout: .seconds(30)) {
                try qpilot.echoedHeaders("x-qpilot-config") == ["fixed"]
            }
            try await eventually("node in sync", timeout: .seconds(30)) { try qpilot.node("envoy-1")?.state == .inSync }
            qpilot.kill9()
            try await qpilot.start()
            try await eventually("in sync after another restart", timeout: .seconds(30)) {
                try qpilot.node("envoy-1").map { $0.connected && $0.state == .inSync } ?? false
            }
        }

        @Test(
            "One refused middleware holds back only itself; a later push of another one does not make the node look in sync",
            arguments: [false, true])
        func oneMiddlewareAtATime(delta: Bool) async throws {
            let qpilot = try await QpilotProcess()
            defer { qpilot.stop() }
            let envoy = try await qpilot.startEnvoy(delta: delta)
            defer { envoy.stop() }
            let module = Paths.wasm("add-header").path
            func chain(_ first: String, _ second: String) -> String {
                """
                middleware:
                - {name: m1, source: \(module), priority: 2, config: "\(first)"}
                - {name: m2, source: \(module), priority: 1, config: "\(second)"}
                """
            }
            func apply(_ yaml: String) throws -> QctlResult {
                try qpilot.qctl(["apply", "-f", "-", "--wait", "--timeout", "30s"], stdin: yaml)
            }
            #expect(try apply(chain("a1", "b1")).status == 0)
            #expect(try qpilot.echoedHeaders("x-qpilot-config") == ["a1", "b1"])

            // One apply changes both; Envoy refuses m2's new config.
            let failed = try apply(chain("a2", "reject-b2"))
            #expect(failed.status != 0)
            #expect(failed.stderr.contains("middleware m2"), "the rollout names the refused middleware: \(failed.stderr)")
            try await eventually("m1's change to apply while m2 keeps its old config", timeout: .seconds(30)) {
                try qpilot.echoedHeaders("x-qpilot-config") == ["a2", "b1"]
            }
            let rollout = try qpilot.qctl(["rollout", "2", "--output", "json"]).json(RolloutView.self)
            #expect(rollout.state == .failed)
            #expect(rollout.nodes.only?.middleware == "m2")

            let node = try #require(try qpilot.node("envoy-1"))
            #expect(node.state == .nacked)
            let byName = Dictionary(uniqueKeysWithValues: node.middleware.map { ($0.name, $0) })
            #expect(byName["m1"]?.state == .inSync)
            #expect(byName["m2"]?.state == .nacked)
            #expect(byName["m2"]?.rejected?.servingRevision == 1, "m2 runs the config of revision 1: \(node)")
            #expect(try qpilot.qctl(["status"]).stdout.contains("m2 rejected (serving revision 1)"))

            // A push of m1 alone: ACKed, but m2 is still refused, and status says so.
            let push = try qpilot.qctl([
                "push", "m1", module, "--priority", "2", "--config", "\"a3\"", "--wait", "--timeout", "30s",
            ])
            #expect(push.status != 0, "revision 3 is not running in full: \(push)")
            try await eventually("m1's push to apply", timeout: .seconds(30)) {
                try qpilot.echoedHeaders("x-qpilot-config") == ["a3", "b1"]
            }
            let later = try #require(try qpilot.node("envoy-1"))
            #expect(later.state == .nacked, "\(later)")
            #expect(later.middleware.first { $0.name == "m2" }?.state == .nacked)
            #expect(later.middleware.first { $0.name == "m1" }?.state == .inSync)

            // After kill -9 and a restart the refusal is still known.
            qpilot.kill9()
            try await qpilot.start()
            try await eventually("Envoy to reconnect and ACK m2's re-sent config", timeout: .seconds(30)) {
                Self.ackedAfterStart(qpilot, "qpilot.middleware.m2")
            }
            #expect(try qpilot.node("envoy-1")?.middleware.first { $0.name == "m2" }?.state == .nacked)

            // m1 runs what Envoy says it holds (not re-sent): in sync, while m2 stays refused.
            try await eventually("m1 known to run a3 after the restart", timeout: .seconds(30)) {
                try qpilot.node("envoy-1")?.middleware.first { $0.name == "m1" }?.state == .inSync
            }

            // Fixing m2 completes the rollout, and the node is in sync.
            #expect(try apply(chain("a3", "b3")).status == 0)
            #expect(try qpilot.echoedHeaders("x-qpilot-config") == ["a3", "b3"])
            #expect(try qpilot.node("envoy-1")?.state == .inSync)
        }
    }
}
