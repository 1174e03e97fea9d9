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
