import Foundation
import Testing

extension Integration {
    /// The Swift-SDK middleware (middleware/, built by `make middleware`), delivered by qpilot.
    @Suite("SDK middleware through qpilot")
    struct MiddlewareTests {
        @Test("pii-guard scrubs a card, an SSN and an e-mail from a request body; block mode refuses it with 403")
        func piiGuard() async throws {
            let body = #"{"card":"4111 1111 1111 1111","ssn":"123-45-6789","email":"jane.doe@example.com","note":"ok"}"#
            try await withHarness(middleware: entry("pii", module: "pii-guard", config: #"{ mode: scrub }"#)) { qpilot in
                try await qpilot.startEnvoy()
                let result = try qpilot.proxied("/submit", extra: ["-H", "content-type: application/json", "--data-binary", body])
                #expect(result.status == 200, "\(qpilot.logs)")
                struct Echo: Decodable { var body: String }
                let seen = try JSONDecoder().decode(Echo.self, from: Data(result.body.utf8)).body
                #expect(!seen.contains("4111 1111 1111 1111"), "\(seen)")
                #expect(!seen.contains("123-45-6789"), "\(seen)")
                #expect(!seen.contains("jane.doe@example.com"), "\(seen)")
                #expect(seen.contains(#""note":"ok""#))
                #expect(seen.count == body.count, "masks keep the length")

                let generation = qpilot.generation
                try qpilot.rewrite(middleware: entry("pii", module: "pii-guard", config: #"{ mode: block }"#))
                try await qpilot.waitForGeneration(after: generation)
                try await eventually("block mode to apply") {
                    (try? qpilot.proxied("/submit", extra: ["--data-binary", body]))?.status == 403
                }
                let clean = try qpilot.proxied("/submit", extra: ["--data-binary", #"{"note":"nothing personal"}"#])
                #expect(clean.status == 200)
            }
        }
    }
}

extension Integration.MiddlewareTests {
    @Test("key-injector: A's key on GET is swapped, A's key on POST gets 403, B's key on POST is swapped; real keys stay out of Envoy's log")
    func keyInjector() async throws {
        let config = """
            { keys: [
                { name: service-a, internalKey: int-a-0001, realKey: real-a-secret-0001,
                  rules: [ { domains: ["127.0.0.1"], methods: [GET, HEAD], paths: ["/v1/items/**"] } ] },
                { name: service-b, internalKey: int-b-0002, realKey: real-b-secret-0002,
                  rules: [ { domains: ["*"] } ], injectHeader: x-api-key, injectScheme: "" } ] }
            """.replacingOccurrences(of: "\n", with: " ")
        try await withHarness(middleware: entry("keys", module: "key-injector", config: config)) { qpilot in
            let envoy = try await qpilot.startEnvoy()
            let readA = try qpilot.proxied("/v1/items/7", extra: ["-H", "Authorization: Bearer int-a-0001"])
            #expect(readA.status == 200, "\(qpilot.logs)")
            #expect(try qpilot.echoedHeaders(readA, "authorization") == ["Bearer real-a-secret-0001"])

            let writeA = try qpilot.proxied("/v1/items/7", extra: ["-X", "POST", "-d", "x", "-H", "Authorization: Bearer int-a-0001"])
            #expect(writeA.status == 403)
            #expect(writeA.body.contains("service-a"))
            #expect(!writeA.body.contains("real-a-secret"))

            let writeB = try qpilot.proxied("/anything", extra: ["-X", "POST", "-d", "x", "-H", "Authorization: Bearer int-b-0002"])
            #expect(writeB.status == 200)
            #expect(try qpilot.echoedHeaders(writeB, "x-api-key") == ["real-b-secret-0002"])
            #expect(try qpilot.echoedHeaders(writeB, "authorization").isEmpty)

            // The upstream never saw an internal key; Envoy's log never saw a real one.
            for request in try qpilot.upstream.requests() {
                #expect(!request.headers.flatMap { $0 }.contains { $0.contains("int-a-0001") || $0.contains("int-b-0002") })
            }
            #expect(!envoy.log.contains("real-a-secret") && !envoy.log.contains("real-b-secret"))
        }
    }

    @Test("upstream-watch reports a failing upstream as degraded to a collector, through the callout listener")
    func upstreamWatch() async throws {
        let failing = try await Integration.FetchTests.Server()
        try await withHarness(middleware: "") { qpilot in
            let generation = qpilot.generation
            let config = "{ collectorURL: \"http://\(qpilot.upstream.authority)/reports\", reportIntervalMs: 300, minRequests: 3, errorRateThreshold: 0.5 }"
            try qpilot.rewrite(middleware: entry("watch", module: "upstream-watch", config: config))
            try await qpilot.waitForGeneration(after: generation)
            let envoy = try await qpilot.startEnvoy()
            for _ in 0..<6 {
                let result = try curl(["-x", "http://127.0.0.1:\(qpilot.egressPort)", "http://127.0.0.1:\(failing.port)/down.wasm"])
                #expect(result.status == 500)
            }
            try await eventually("a report naming the failing host as degraded") {
                try qpilot.upstream.requests().contains {
                    $0.path == "/reports" && $0.body.contains("degraded") && $0.body.contains("127.0.0.1:\(failing.port)")
                }
            }
            #expect(try envoy.stat("http.qpilot_callout.downstream_rq_total").map { $0 >= 1 } == true)
            // The six requests went through the egress listener; the report did not.
            #expect(try envoy.stat("http.qpilot_egress.downstream_rq_total") == 6)
        }
    }
}
