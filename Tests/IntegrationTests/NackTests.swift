import Foundation
import QpilotAPI
import QpilotServer
import Testing
import XDS

extension Integration {
    @Suite("Config that Envoy rejects")
    struct NackTests {
        @Test(
            "A module whose proxy_on_configure fails is NACKed with Envoy's message; the previous one keeps serving; no resend loop",
            arguments: ["inline", "file", "remote"])
        func rejectedConfigure(delivery: String) async throws {
            try await withHarness(
                middleware: entry("guard", config: "good", extra: ["delivery: \(delivery)"]),
                extra: "delivery: inline") { qpilot in
            let envoy = try await qpilot.startEnvoy()
            #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["good"])
            let ecdsBefore = try #require(qpilot.status("envoy-1")?.acked[.extensionConfig])

            // add-header's proxy_on_configure returns false when its configuration says "reject".
            let generation = qpilot.generation
            try qpilot.rewrite(middleware: entry("guard", config: "reject-me", extra: ["delivery: \(delivery)"]))
            try await qpilot.waitForGeneration(after: generation)
            try await eventually("Envoy to NACK") { qpilot.status("envoy-1")?.lastNack != nil }

            let status = try #require(qpilot.status("envoy-1"))
            let nack = try #require(status.lastNack)
            #expect(nack.type == .extensionConfig)
            #expect(nack.message.contains("Unable to create Wasm plugin"), "\(nack.message)")
            #expect(status.syncState(against: qpilot.runtime.cache.snapshot(for: "default")) == .nacked)
            #expect(status.acked[.extensionConfig] == ecdsBefore, "the ACKed version is still the previous one")

            // Envoy keeps serving the previous middleware.
            #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["good"])

            // qpilot does not resend the rejected version: the count of ECDS responses stays put.
            let responses = try #require(qpilot.status("envoy-1")?.responses[.extensionConfig])
            try await Task.sleep(for: .seconds(3))
            #expect(qpilot.status("envoy-1")?.responses[.extensionConfig] == responses)
            #expect(qpilot.status("envoy-1")?.nacks[.extensionConfig] == 1)
            #expect(try envoy.stat("http.qpilot_egress.downstream_rq_total") != nil)

            // A fixed config is sent, ACKed, and clears the NACK.
            let next = qpilot.generation
            try qpilot.rewrite(middleware: entry("guard", config: "fixed", extra: ["delivery: \(delivery)"]))
            try await qpilot.waitForGeneration(after: next)
            try await eventually("Envoy to apply the fix") {
                try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["fixed"]
            }
            try await eventually("node in sync") { qpilot.isInSync("envoy-1") }
            #expect(qpilot.status("envoy-1")?.lastNack == nil)
            }
        }
    }
}
