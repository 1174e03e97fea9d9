import Foundation
import QpilotServer
import Testing
import XDS

extension Integration {
    @Suite("The callout path")
    struct CalloutTests {
        @Test("proxy_http_call through qpilot_callout reaches the upstream, bypasses the middleware chain, and shows in the callout listener's stats")
        func calloutBypassesChain() async throws {
            // The callout module's configuration is the authority it calls; add-header runs after it.
            try await withHarness(middleware: "") { qpilot in
            let generation = qpilot.generation
            try qpilot.rewrite(middleware: [
                entry("caller", module: "callout", config: qpilot.upstream.authority, extra: ["priority: 20"]),
                entry("marker", config: "marked", extra: ["priority: 10"]),
            ].joined(separator: "\n"))
            try await qpilot.waitForGeneration(after: generation)
            let envoy = try await qpilot.startEnvoy()

            let result = try qpilot.proxied("/with-callout")
            #expect(result.status == 200, "\(qpilot.logs)")
            #expect(try qpilot.echoedHeaders(result, "x-callout-status") == ["200"])
            #expect(try qpilot.echoedHeaders(result, "x-qpilot-config") == ["marked"])

            let seen = try qpilot.upstream.requests()
            let callout = try #require(seen.first { $0.path == "/callout" })
            #expect(callout.header("x-qpilot-config").isEmpty, "the callout must not pass through the middleware chain")
            let original = try #require(seen.first { $0.path == "/with-callout" })
            #expect(original.header("x-qpilot-config") == ["marked"])

            #expect(try envoy.stat("http.qpilot_callout.downstream_rq_total") == 1)
            #expect(try envoy.stat("http.qpilot_egress.downstream_rq_total") == 1)
            // The callout listener has its own access log (Envoy flushes it about once a second).
            let accessLog = qpilot.directory.appendingPathComponent("callout-access.log")
            try await eventually("the callout access log") {
                ((try? String(contentsOf: accessLog, encoding: .utf8)) ?? "").contains("/callout")
            }
            }
        }
    }
}
