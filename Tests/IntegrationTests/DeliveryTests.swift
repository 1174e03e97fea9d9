import Foundation
import QpilotServer
import Testing
import XDS

extension Integration {
    @Suite("Module delivery modes")
    struct DeliveryTests {
        @Test("file and remote delivery reach Envoy", arguments: ["file", "remote"])
        func deliveryModes(delivery: String) async throws {
            try await withHarness(
                middleware: entry("greeter", config: delivery, extra: ["delivery: \(delivery)"])) { qpilot in
            try await qpilot.startEnvoy()
            try await eventually("the module to run") {
                (try? qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config")) == [delivery]
            }
            }
        }

        @Test(
            "A 3.4 MB Go-SDK module passes through ADS inline",
            .enabled(if: Paths.hasSharedTestdata, "needs ../shared/testdata/wasm (present on dev machines and CI, not in a user's clone)"))
        func largeModuleInline() async throws {
            let module = Paths.sharedTestdata.appendingPathComponent("go-sdk-http-headers.wasm")
            let size = try #require(try FileManager.default.attributesOfItem(atPath: module.path)[.size] as? Int)
            #expect(size > 3_000_000)
            try await withHarness(
                middleware: "  - name: go-headers\n    source: \(module.path)\n    failurePolicy: open") { qpilot in
            try await qpilot.startEnvoy()
            let status = try #require(qpilot.status("envoy-1"))
            #expect(status.acked["ECDS"] == qpilot.runtime.cache.snapshot(for: "default")?.version(of: .extensionConfig))
            #expect(status.lastNack == nil)
            #expect(try qpilot.proxied().status == 200)
            }
        }
    }
}
