import Foundation
import QpilotAPI
import QpilotServer
import Testing

extension Integration {
    @Suite("Admin API and qctl status")
    struct AdminTests {
        @Test("The admin API needs a token; qctl status lists the node in sync, then NACKed with Envoy's message")
        func statusThroughAdminAPI() async throws {
            try await withHarness(middleware: entry("guard", config: "good")) { qpilot in
                try await qpilot.startEnvoy()
                let api = "http://127.0.0.1:\(qpilot.adminPort)"
                // A tokens file was created with one admin token, readable only by its owner.
                let tokens = qpilot.runtime.config.server.tokensFile
                let mode = try FileManager.default.attributesOfItem(atPath: tokens.path)[.posixPermissions] as? Int
                #expect(mode == 0o600)

                #expect(try curl(["\(api)/v1/nodes"]).status == 401)
                #expect(try curl(["-H", "Authorization: Bearer not-a-valid-token-at-all", "\(api)/v1/nodes"]).status == 401)

                let status = try QctlTests.qctl(["status", "--server", api, "--token-file", tokens.path])
                #expect(status.status == 0, "\(status.output)")
                #expect(status.output.contains("envoy-1"))
                #expect(status.output.contains("in-sync"))

                let generation = qpilot.generation
                try qpilot.rewrite(middleware: entry("guard", config: "reject-this"))
                try await qpilot.waitForGeneration(after: generation)
                try await eventually("the NACK to show") {
                    try QctlTests.qctl(["status", "--server", api, "--token-file", tokens.path]).output.contains("nacked")
                }
                let nacked = try QctlTests.qctl(["status", "--server", api, "--token-file", tokens.path, "--output", "json"])
                #expect(nacked.status == 1)
                let list = try APIJSON.decoder().decode(NodeList.self, from: Data(nacked.output.utf8))
                let node = try #require(list.nodes.first)
                #expect(node.state == .nacked)
                #expect(node.lastNack?.message.contains("Unable to create Wasm plugin") == true)
                #expect(node.acked[.middleware] != node.desired[.middleware])

                let other = try QctlTests.qctl(["status", "--server", api, "--token-file", tokens.path, "--fleet", "nobody"])
                #expect(other.output.contains("no nodes"))
            }
        }
    }
}
