import Foundation
import Testing

extension Integration {
    /// Issue 12, item 4: a fleet's Envoys receive only the secrets of their own fleet's middleware.
    @Suite("Secrets reach only the fleets that use them")
    struct SecretScopeTests {
        @Test("fleet alpha's Envoy config dump holds alpha's secret and none of beta's, and the other way round")
        func secretsStayInTheirFleet() async throws {
            let valueA = "alpha-secret-\(UUID().uuidString)"
            let valueB = "beta-secret-\(UUID().uuidString)"
            try await withHarness(middleware: nil) { qpilot in
                for (name, value) in [("key-a", valueA), ("key-b", valueB)] {
                    let set = try qpilot.qctl(["secret", "set", name, "--from-literal", value])
                    #expect(set.status == 0, "\(set)")
                }
                let generation = qpilot.generation
                try qpilot.rewrite(
                    middleware: [
                        entry("hdr-a", config: #""${secret:key-a}""#, extra: ["fleets: [alpha]"]),
                        entry("hdr-b", config: #""${secret:key-b}""#, extra: ["fleets: [beta]"]),
                        entry("hdr-all", config: "everyone"),
                    ].joined(separator: "\n"))
                try await qpilot.waitForGeneration(after: generation)
                let alpha = try await qpilot.startEnvoy(nodeID: "envoy-alpha", fleet: "alpha")
                let beta = try await qpilot.startEnvoy(nodeID: "envoy-beta", fleet: "beta")
                try await eventually("both Envoys in sync") {
                    qpilot.isInSync("envoy-alpha", fleet: "alpha") && qpilot.isInSync("envoy-beta", fleet: "beta")
                }
                let dumpA = try alpha.configDump()
                let dumpB = try beta.configDump()
                #expect(dumpA.contains("qpilot.middleware.hdr-a") && dumpA.contains("qpilot.middleware.hdr-all"))
                #expect(dumpA.contains(valueA), "alpha's own secret is missing from its config")
                #expect(!dumpA.contains(valueB), "fleet alpha's Envoy holds fleet beta's secret")
                #expect(!dumpA.contains("qpilot.middleware.hdr-b"))
                #expect(dumpB.contains(valueB))
                #expect(!dumpB.contains(valueA), "fleet beta's Envoy holds fleet alpha's secret")
            }
        }
    }
}
