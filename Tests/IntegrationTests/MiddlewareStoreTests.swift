import Foundation
import Testing

extension Integration {
    /// Issue 5: the SDK middleware (middleware/, built by `make middleware`) pushed with qctl in
    /// store mode, its secrets coming from qpilot's secret store, through stock Envoy 1.40.
    @Suite("SDK middleware pushed with qctl")
    struct MiddlewareStoreTests {
        @Test("key-injector with real keys from qpilot secrets: swaps on allowed requests, 403 otherwise; real keys stay out of logs, API answers, qctl output and files on disk")
        func keyInjectorWithSecrets() async throws {
            let realA = "sk-live-\(UUID().uuidString)"
            let realB = "sk-live-\(UUID().uuidString)"
            let internalA = "int-a-\(UUID().uuidString.prefix(8))"
            let internalB = "int-b-\(UUID().uuidString.prefix(8))"
            try await withHarness(middleware: nil) { qpilot in
                // An egress access log, so the check below covers it too.
                let generation = qpilot.generation
                let accessLog = qpilot.directory.appendingPathComponent("egress-access.log")
                let egress = "egress: { address: 127.0.0.1, port: \(qpilot.egressPort), allowInternal: [127.0.0.0/8] }"
                let config = QpilotHarness.config(
                    xds: qpilot.xdsPort, admin: qpilot.adminPort, modules: qpilot.modulesPort, egress: qpilot.egressPort,
                    extra: "", middleware: nil)
                #expect(config.contains(egress))
                try qpilot.rewrite(
                    raw: config.replacingOccurrences(
                        of: egress, with: "egress: { address: 127.0.0.1, port: \(qpilot.egressPort), allowInternal: [127.0.0.0/8], accessLog: \(accessLog.path) }"))
                try await qpilot.waitForGeneration(after: generation)
                let envoy = try await qpilot.startEnvoy()

                var outputs: [String] = []  // everything qctl and the API answered
                for (name, value) in [("openai-real", realA), ("openai-real-b", realB)] {
                    let set = try qpilot.qctl(["secret", "set", name, "--from-literal", value])
                    #expect(set.status == 0, "\(set)")
                    outputs += [set.stdout, set.stderr]
                }
                let configFile = qpilot.directory.appendingPathComponent("key-injector.json")
                try """
                    {"keys": [
                      {"name": "service-a", "internalKey": "\(internalA)", "realKey": "${secret:openai-real}",
                       "rules": [{"domains": ["127.0.0.1"], "methods": ["GET", "HEAD"], "paths": ["/v1/items/**"]}]},
                      {"name": "service-b", "internalKey": "\(internalB)", "realKey": "${secret:openai-real-b}",
                       "rules": [{"domains": ["*"]}], "injectHeader": "x-api-key", "injectScheme": ""}
                    ]}
                    """.write(to: configFile, atomically: true, encoding: .utf8)
                let push = try qpilot.qctl([
                    "push", "key-injector", Paths.wasm("key-injector").path, "--config-file", configFile.path, "--wait", "--timeout", "30s",
                ])
                #expect(push.status == 0, "\(push)")
                outputs += [push.stdout, push.stderr]

                // A's key on GET: allowed, and the upstream sees the real key in its place.
                let readA = try qpilot.proxied("/v1/items/7", extra: ["-H", "Authorization: Bearer \(internalA)"])
                #expect(readA.status == 200, "\(readA.body)\n\(qpilot.logs)")
                #expect(try qpilot.echoedHeaders(readA, "authorization") == ["Bearer \(realA)"], "\(readA.body)")

                // A's key on POST: refused by rule 1 (GET, HEAD), naming the key but no key value.
                let writeA = try qpilot.proxied("/v1/items/7", extra: ["-X", "POST", "-d", "x", "-H", "Authorization: Bearer \(internalA)"])
                #expect(writeA.status == 403, "\(writeA.body)")
                #expect(writeA.body.contains("service-a") && writeA.body.contains("POST"), "\(writeA.body)")
                #expect(!writeA.body.contains(realA) && !writeA.body.contains(internalA), "\(writeA.body)")

                // B's key on POST: swapped into x-api-key, the internal Authorization removed.
                let writeB = try qpilot.proxied("/anything", extra: ["-X", "POST", "-d", "x", "-H", "Authorization: Bearer \(internalB)"])
                #expect(writeB.status == 200, "\(writeB.body)")
                #expect(try qpilot.echoedHeaders(writeB, "x-api-key") == [realB], "\(writeB.body)")
                #expect(try qpilot.echoedHeaders(writeB, "authorization").isEmpty, "\(writeB.body)")

                // The upstream saw exactly the two allowed requests, with real keys only.
                let seen = try qpilot.upstream.requests()
                #expect(seen.map { "\($0.method) \($0.path)" } == ["GET /v1/items/7", "POST /anything"], "\(seen.map(\.path))")
                #expect(seen.first?.header("authorization") == ["Bearer \(realA)"])
                #expect(seen.last?.header("x-api-key") == [realB])
                for request in seen {
                    let values = request.headers.compactMap { $0.last }
                    #expect(!values.contains { $0.contains(internalA) || $0.contains(internalB) }, "\(request.headers)")
                }

                #expect(try envoy.stat("wasmcustom.key_injector.allowed.service-a") == 1)
                #expect(try envoy.stat("wasmcustom.key_injector.denied.service-a") == 1)
                #expect(try envoy.stat("wasmcustom.key_injector.allowed.service-b") == 1)

                // Envoy's log and its access log never show a real key. (Envoy's /config_dump does:
                // the resolved configuration is what the module runs with.)
                try await eventually("the access log to list the three requests") {
                    ((try? String(contentsOf: accessLog, encoding: .utf8)) ?? "").split(separator: "\n").count >= 3
                }
                let access = try String(contentsOf: accessLog, encoding: .utf8)
                #expect(access.contains("/v1/items/7") && access.contains(" 403 "), "\(access)")
                for (name, text) in [("Envoy's log", envoy.log), ("the access log", access)] {
                    #expect(!text.contains(realA) && !text.contains(realB), "a real key in \(name)")
                }

                // No admin API answer and no qctl output shows a real key; they show the references.
                let api = ["/v1/middleware", "/v1/middleware/key-injector", "/v1/revisions", "/v1/revisions/1", "/v1/config", "/v1/secrets", "/v1/nodes", "/metrics"]
                for path in api {
                    let answer = try qpilot.api("GET", path)
                    #expect(answer.status == 200, "\(path): \(answer.status) \(answer.body)")
                    outputs.append(answer.body)
                }
                let middleware = try qpilot.api("GET", "/v1/middleware").body
                #expect(middleware.contains("${secret:openai-real}") && middleware.contains("${secret:openai-real-b}"), "\(middleware)")
                #expect(try qpilot.api("GET", "/v1/revisions/1").body.contains("${secret:openai-real}"))
                for arguments in [["get"], ["get", "key-injector"], ["history"], ["secret", "list"], ["status"], ["rollout", "1"]] {
                    for format in ["json", "yaml", "table"] {
                        let result = try qpilot.qctl(arguments + ["--output", format])
                        #expect(result.status == 0, "\(arguments) \(format): \(result)")
                        outputs += [result.stdout, result.stderr]
                    }
                }
                let json = try qpilot.qctl(["get", "--output", "json"])
                #expect(json.stdout.contains("${secret:openai-real}"), "\(json)")
                for output in outputs {
                    #expect(!output.contains(realA) && !output.contains(realB), "a real key was returned: \(output)")
                }

                // Nor does any file qpilot or Envoy wrote (the store seals secrets).
                let files = FileManager.default.enumerator(at: qpilot.directory, includingPropertiesForKeys: [.isRegularFileKey])
                var scanned = 0
                while let file = files?.nextObject() as? URL {
                    guard (try? file.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true,
                        let data = try? Data(contentsOf: file)
                    else { continue }
                    scanned += 1
                    #expect(data.range(of: Data(realA.utf8)) == nil && data.range(of: Data(realB.utf8)) == nil, "a real key in \(file.path)")
                }
                #expect(scanned >= 5)
            }
        }

        @Test("pii-guard in report mode: a body with a card, an e-mail and an SSN goes through unchanged, and Envoy's stats count each kind")
        func piiGuardReport() async throws {
            let body = #"{"card":"4111 1111 1111 1111","email":"jane.doe@example.com","ssn":"123-45-6789","note":"ok"}"#
            try await withHarness(middleware: nil) { qpilot in
                let envoy = try await qpilot.startEnvoy()
                let push = try qpilot.qctl([
                    "push", "pii-guard", Paths.wasm("pii-guard").path, "--config", #"{"mode": "report"}"#, "--wait", "--timeout", "30s",
                ])
                #expect(push.status == 0, "\(push)")

                struct Echo: Decodable { var body: String }
                func send(_ expected: Int) async throws {
                    let result = try qpilot.proxied("/submit", extra: ["-H", "content-type: application/json", "--data-binary", body])
                    #expect(result.status == 200, "\(result.body)\n\(qpilot.logs)")
                    #expect(try JSONDecoder().decode(Echo.self, from: Data(result.body.utf8)).body == body, "the upstream got the body unchanged")
                    #expect(try qpilot.upstream.requests().last?.body == body)
                    // exchanges_with_findings is counted when the exchange is done, after the response.
                    try await eventually("exchange \(expected) counted") {
                        try envoy.stat("wasmcustom.pii_guard.exchanges_with_findings") == expected
                    }
                    #expect(try envoy.stat("wasmcustom.pii_guard.found.card") == expected)
                    #expect(try envoy.stat("wasmcustom.pii_guard.found.email") == expected)
                    #expect(try envoy.stat("wasmcustom.pii_guard.found.ssn") == expected)
                    #expect(try envoy.stat("wasmcustom.pii_guard.scrubbed") ?? 0 == 0)
                    #expect(try envoy.stat("wasmcustom.pii_guard.blocked") ?? 0 == 0)
                }
                try await send(1)
                try await send(2)

                // A clean body is not an exchange with findings.
                let clean = try qpilot.proxied("/submit", extra: ["--data-binary", #"{"note":"nothing personal"}"#])
                #expect(clean.status == 200)
                #expect(try envoy.stat("wasmcustom.pii_guard.found.card") == 2)
                #expect(try envoy.stat("wasmcustom.pii_guard.exchanges_with_findings") == 2)
            }
        }
    }
}
