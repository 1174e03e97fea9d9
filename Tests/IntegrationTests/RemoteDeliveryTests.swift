import Foundation
import QpilotAPI
import QpilotTestSupport
import Testing

extension Integration {
    /// `remote` delivery with `nack_on_code_cache_miss`: Envoy 1.40 NACKs the first config naming a
    /// module it does not hold (the same message as a module that fails to configure) and fetches
    /// it in the background. qpilot sees the node's download at its module endpoint and sends the
    /// config again, with other bytes so that Envoy builds it instead of skipping it. These run it
    /// against a real Envoy and a qpilot process killed with SIGKILL in between.
    @Suite("Remote delivery: the ACK means the module loaded")
    struct RemoteDeliveryTests {
        static func remote(_ name: String, module: String, config: String) -> String {
            entry(name, module: module, config: config, extra: ["delivery: remote"])
        }

        /// Lines of the current qpilot process's log that contain `text`.
        static func logLines(_ qpilot: QpilotProcess, _ text: String) -> [Substring] {
            qpilot.currentLog.split(separator: "\n").filter { $0.contains(text) }
        }

        @Test(
            "A fresh Envoy, and the same Envoy after qpilot restarts: the fetching NACK resolves by itself; a module that fails to configure is NACKed after its download, the previous one serving",
            arguments: [false, true])
        func fetchingThenLoaded(delta: Bool) async throws {
            let qpilot = try await QpilotProcess(middleware: Self.remote("guard", module: "sdk-examples/hello-header", config: "first"))
            defer { qpilot.stop() }
            let envoy = try await qpilot.startEnvoy(delta: delta)
            defer { envoy.stop() }

            // A freshly started Envoy: NACK while it fetches, a resend, an ACK. No operator action.
            try await eventually("Envoy in sync", timeout: .seconds(30)) { try qpilot.node("envoy-1")?.state == .inSync }
            #expect(try qpilot.echoedHeaders("x-hello").first?.contains("first") == true)
            #expect(!Self.logLines(qpilot, "Envoy is fetching a module").isEmpty, "the first config was refused while Envoy fetched")
            #expect(Self.logLines(qpilot, "Envoy rejected config").isEmpty, "a fetching NACK is not reported as a rejection")

            // qpilot restarts with a module this Envoy never fetched: Envoy reconnects, and the
            // same sequence brings it in.
            qpilot.kill9()
            try qpilot.rewrite(middleware: Self.remote("guard", module: "add-header", config: "second"))
            try await qpilot.start()
            try await eventually("Envoy in sync with the new module", timeout: .seconds(30)) {
                try qpilot.node("envoy-1").map { $0.connected && $0.state == .inSync } ?? false
            }
            #expect(try qpilot.echoedHeaders("x-qpilot-config") == ["second"])
            #expect(!Self.logLines(qpilot, "Envoy is fetching a module").isEmpty)
            #expect(Self.logLines(qpilot, "Envoy rejected config").isEmpty)

            // A module Envoy does not hold and whose proxy_on_configure fails (body-rewrite refuses
            // a configuration without "replace"): fetched, sent again, and then NACKed for real.
            try qpilot.rewrite(middleware: Self.remote("guard", module: "sdk-examples/body-rewrite", config: "nope"))
            qpilot.reload()
            try await eventually("Envoy to NACK", timeout: .seconds(30)) { try qpilot.node("envoy-1")?.state == .nacked }
            let refused = try #require(try qpilot.node("envoy-1")?.middleware.only)
            let message = try #require(refused.rejected?.message)
            #expect(message.contains("Unable to create Wasm plugin"), "\(message)")
            #expect(!message.contains("qpilot saw no download"), "judged after the download: \(message)")
            #expect(refused.rejected?.version == refused.desired)
            #expect(refused.acked != nil && refused.acked == refused.rejected?.serving, "it runs the previous config")
            #expect(try qpilot.echoedHeaders("x-qpilot-config") == ["second"], "the previous module serves")
            let fetchingLines = Self.logLines(qpilot, "Envoy is fetching a module")
            #expect(fetchingLines.count >= 2, "the new module was fetched before the NACK counted")
            #expect(Self.logLines(qpilot, "Envoy rejected config").count == 1)

            // After a restart Envoy reconnects; qpilot sends the refused version with other bytes,
            // Envoy builds it from its cache and refuses it again. No ACK of it is recorded.
            qpilot.kill9()
            try await qpilot.start()
            try await eventually("Envoy to reconnect and refuse it again", timeout: .seconds(30)) {
                !Self.logLines(qpilot, "Envoy rejected config").isEmpty
            }
            let after = try #require(try qpilot.node("envoy-1"))
            #expect(after.connected)
            #expect(after.state == .nacked, "\(after)")
            #expect(after.middleware.only?.acked == refused.acked, "what it runs is still the previous config")
            #expect(!RejectionMemoryTests.ackedAfterStart(qpilot, "qpilot.middleware.guard"), "no ACK of the refused config")
            #expect(Self.logLines(qpilot, "Envoy is fetching a module").count <= 1, "a version refused before is resent once at most")
            #expect(try qpilot.echoedHeaders("x-qpilot-config") == ["second"])

            // Fixed: a good configuration of the module Envoy now holds loads at once.
            let fetchingBefore = Self.logLines(qpilot, "Envoy is fetching a module").count
            try qpilot.rewrite(middleware: Self.remote("guard", module: "sdk-examples/body-rewrite", config: "'{\"replace\": {\"a\": \"b\"}}'"))
            qpilot.reload()
            try await eventually("node in sync", timeout: .seconds(30)) { try qpilot.node("envoy-1")?.state == .inSync }
            #expect(Self.logLines(qpilot, "Envoy is fetching a module").count == fetchingBefore, "the module was in Envoy's cache")
        }
    }
}
