import Foundation
import QpilotAPI
import Testing

extension Integration {
    /// Store mode: no `middleware:` section in qpilot.yaml, so operators push with qctl and the
    /// store keeps every revision. qctl runs as a binary; Envoy is stock 1.40.
    @Suite("Store mode: push, status, NACK, rollback")
    struct StoreModeTests {
        @Test("push --wait exits 0 after Envoy ACKed; a config the module rejects fails --wait with Envoy's message; rollback restores")
        func pushNackRollback() async throws {
            try await withHarness(middleware: nil) { qpilot in
                try await qpilot.startEnvoy()
                let module = Paths.wasm("add-header").path

                let push = try qpilot.qctl(["push", "greeter", module, "--config", "\"good\"", "--wait", "--timeout", "30s"])
                #expect(push.status == 0, "\(push)")
                #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["good"])

                let status = try qpilot.qctl(["status", "--output", "json"])
                #expect(status.status == 0, "\(status)")
                let nodes = try status.json(NodeList.self).nodes
                #expect(nodes.map(\.nodeID) == ["envoy-1"])
                #expect(nodes.first?.state == .inSync, "\(status.stdout)")
                #expect(nodes.first?.envoyVersion.hasPrefix("envoy/1.40.") == true, "\(status.stdout)")
                let table = try qpilot.qctl(["status"])
                #expect(table.stdout.contains("envoy-1") && table.stdout.contains("in-sync"), "\(table)")

                // add-header's proxy_on_configure returns false for "reject-me": Envoy NACKs.
                let rejected = try qpilot.qctl(["push", "greeter", module, "--config", "\"reject-me\"", "--wait", "--timeout", "30s"])
                #expect(rejected.status == 2, "\(rejected)")
                #expect(rejected.stdout.contains("Unable to create Wasm plugin") || rejected.stderr.contains("Unable to create Wasm plugin"), "\(rejected)")
                #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["good"], "Envoy keeps the previous middleware")

                let history = try qpilot.qctl(["history", "--output", "json"]).json(RevisionList.self)
                #expect(history.revisions.map(\.revision) == [2, 1])
                #expect(history.revisions.allSatisfy { $0.action == "push greeter" })

                let rollback = try qpilot.qctl(["rollback", "1", "--wait", "--timeout", "30s"])
                #expect(rollback.status == 0, "\(rollback)")
                let after = try qpilot.qctl(["history", "--output", "json"]).json(RevisionList.self)
                #expect(after.revisions.first?.action == "rollback to 1")
                try await eventually("the node back in sync") { qpilot.isInSync("envoy-1") }
                #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["good"])
                let chain = try qpilot.qctl(["get", "greeter", "--output", "json"]).json(MiddlewareSpec.self)
                #expect(chain.config == .string("good"))
            }
        }

        @Test("After a NACKed configuration and a rollback to a chain without the middleware, rolling back to the good one works")
        func recoverAfterNack() async throws {
            try await withHarness(middleware: nil) { qpilot in
                try await qpilot.startEnvoy()
                let module = Paths.wasm("add-header").path
                let wait = ["--wait", "--timeout", "30s"]
                #expect(try qpilot.qctl(["push", "greeter", module, "--config", "\"good\""] + wait).status == 0)  // 1
                #expect(try qpilot.qctl(["push", "greeter", module, "--config", "\"reject-me\""] + wait).status == 2)  // 2
                #expect(try qpilot.qctl(["disable", "greeter"] + wait).status == 0)  // 3
                #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == [])
                // The draining listener keeps Envoy's ECDS subscription alive with the refused config
                // as its last one; the good config must reach it before the listener names it again.
                let back = try qpilot.qctl(["rollback", "1"] + wait)
                #expect(back.status == 0, "\(back)\n\(qpilot.logs)")
                #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["good"])
                try await eventually("the node in sync") { qpilot.isInSync("envoy-1") }
            }
        }

        @Test("Bad input gets a clear 4xx and changes nothing")
        func badInput() async throws {
            try await withHarness(middleware: nil) { qpilot in
                let module = Paths.wasm("add-header").path
                let good = #"{"name": "greeter", "source": "\#(module)", "config": "hi"}"#
                let created = try qpilot.api("POST", "/v1/middleware", body: good)
                #expect(created.status == 201, "\(created.body)")

                func head() throws -> Int {
                    try APIJSON.decoder().decode(MiddlewareList.self, from: Data(qpilot.api("GET", "/v1/middleware").body.utf8)).revision
                }
                func refused(_ result: HTTPResult, _ status: Int, _ code: String, _ words: String) throws {
                    #expect(result.status == status, "\(result.body)")
                    let error = try APIJSON.decoder().decode(APIErrorBody.self, from: Data(result.body.utf8))
                    #expect(error.code.rawValue == code, "\(result.body)")
                    #expect(error.message.contains(words), "\(error.message)")
                    #expect(try head() == 1, "nothing changed")
                }

                try refused(qpilot.api("PUT", "/v1/middleware/greeter", body: #"{"name": "greeter", "source": "#), 400, "bad_request", "not valid")
                try refused(
                    qpilot.api("PUT", "/v1/middleware/greeter", body: #"{"name": "greeter", "source": "\#(module)", "confg": "x"}"#),
                    400, "bad_request", "unknown field 'confg'")
                try refused(qpilot.api("POST", "/v1/middleware", body: good), 409, "duplicate", "exists")
                let twice = #"{"middleware": [\#(good), \#(good)]}"#
                try refused(qpilot.api("POST", "/v1/apply", body: twice), 409, "duplicate", "twice")
                try refused(
                    qpilot.api("PUT", "/v1/middleware/greeter", body: good.replacingOccurrences(of: "hi", with: "new"), headers: [#"If-Match: "0""#]),
                    409, "stale_revision", "head is revision 1")
                try refused(qpilot.api("POST", "/v1/revisions/99/rollback"), 404, "unknown_revision", "no revision 99")
                let notWasm = qpilot.directory.appendingPathComponent("not.wasm")
                try Data("hello".utf8).write(to: notWasm)
                try refused(
                    qpilot.api("PUT", "/v1/middleware/other", body: #"{"name": "other", "source": "\#(notWasm.path)"}"#),
                    422, "invalid_module", "not a WebAssembly module")
                try refused(
                    qpilot.api("PUT", "/v1/middleware/greeter", body: #"{"name": "greeter", "source": "\#(module)", "failurePolicy": "maybe"}"#),
                    400, "invalid", "'maybe' is not one of")
                try refused(
                    qpilot.api("PUT", "/v1/middleware/keys", body: #"{"name": "keys", "source": "\#(module)", "config": {"k": "${secret:nope}"}}"#),
                    422, "missing_secret", "secret 'nope'")

                // The same document again is not a new revision.
                let again = try qpilot.api("PUT", "/v1/middleware/greeter", body: good, headers: [#"If-Match: "1""#])
                #expect(again.status == 200, "\(again.body)")
                #expect(try APIJSON.decoder().decode(WriteResult.self, from: Data(again.body.utf8)).changed == false)
                #expect(try head() == 1)
            }
        }

        @Test("Without a token: 401; a read token that writes: 403; secrets are never returned; the key file is 0600")
        func security() async throws {
            let admin = String(repeating: "a", count: 32)
            let reader = String(repeating: "r", count: 32)
            try await withHarness(middleware: nil, tokens: "\(admin) admin\n\(reader) read\n") { qpilot in
                #expect(try curl(["\(qpilot.adminURL)/v1/middleware"]).status == 401)
                #expect(try curl(["-H", "Authorization: Bearer wrong-token-wrong-token", "\(qpilot.adminURL)/v1/nodes"]).status == 401)
                #expect(try qpilot.api("GET", "/v1/middleware", token: reader).status == 200)
                let write = try qpilot.api("PUT", "/v1/secrets/api-key", body: #"{"value": "x"}"#, token: reader)
                #expect(write.status == 403, "\(write.body)")

                let value = "sk-live-\(UUID().uuidString)"
                let set = try qpilot.qctl(["secret", "set", "api-key", "--from-literal", value])
                #expect(set.status == 0, "\(set)")
                let module = Paths.wasm("add-header").path
                let push = try qpilot.qctl(["push", "keyed", module, "--config", #"{"key": "${secret:api-key}"}"#])
                #expect(push.status == 0, "\(push)")

                // Every read: the API, and qctl in every output format.
                var seen: [String] = []
                for path in ["/v1/secrets", "/v1/middleware", "/v1/middleware/keyed", "/v1/revisions", "/v1/revisions/1", "/v1/config", "/metrics"] {
                    seen.append(try qpilot.api("GET", path).body)
                }
                for arguments in [["secret", "list"], ["get"], ["get", "keyed"], ["history"]] {
                    for format in ["table", "json", "yaml"] {
                        let result = try qpilot.qctl(arguments + ["--output", format])
                        #expect(result.status == 0, "\(arguments) \(format): \(result)")
                        seen += [result.stdout, result.stderr]
                    }
                }
                #expect(seen.allSatisfy { !$0.contains(value) }, "a secret value was returned")
                #expect(seen.contains { $0.contains("api-key") }, "the secret's name is listed")

                let keyFile = qpilot.directory.appendingPathComponent("data/secrets.key")
                let mode = try FileManager.default.attributesOfItem(atPath: keyFile.path)[.posixPermissions] as? Int
                #expect(mode == 0o600)
                let database = try Data(contentsOf: qpilot.directory.appendingPathComponent("data/state.sqlite"))
                #expect(database.range(of: Data(value.utf8)) == nil, "the value is encrypted at rest")

                // A secret in use cannot be deleted; once unused it can.
                let inUse = try qpilot.api("DELETE", "/v1/secrets/api-key")
                #expect(inUse.status == 409, "\(inUse.body)")
                #expect(try qpilot.qctl(["delete", "keyed"]).status == 0)
                #expect(try qpilot.qctl(["secret", "delete", "api-key"]).status == 0)
                #expect(!(try qpilot.qctl(["secret", "list"]).stdout.contains("api-key")))
            }
        }

        @Test("20 concurrent pushes from separate processes: each succeeds or gets 409, and the history is consistent")
        func concurrentPushes() async throws {
            try await withHarness(middleware: nil) { qpilot in
                let module = Paths.wasm("add-header").path
                let connection = ["--server", qpilot.adminURL, "--token-file", qpilot.adminTokenFile.path]
                let runs = (0..<20).map { index in
                    // Half of them say which revision they read (0, the empty store).
                    let ifMatch = index.isMultiple(of: 2) ? ["--if-match", "0"] : []
                    return ["push", "mw-\(index)", module, "--config", "\"\(index)\""] + ifMatch + connection
                }
                let results = try runQctlConcurrently(runs, timeout: 120)
                var succeeded: [Int] = []
                for (index, result) in results.enumerated() {
                    if result.status == 0 {
                        succeeded.append(index)
                    } else {
                        #expect(result.stderr.contains("stale_revision"), "push \(index) failed otherwise: \(result)")
                    }
                }
                let unconditional = Set((0..<20).filter { !$0.isMultiple(of: 2) })
                #expect(unconditional.isSubset(of: Set(succeeded)), "pushes without If-Match always succeed")
                #expect(succeeded.filter { $0.isMultiple(of: 2) }.count <= 1, "at most one push can match revision 0")

                let history = try qpilot.qctl(["history", "--limit", "100", "--output", "json"]).json(RevisionList.self)
                #expect(history.revisions.map(\.revision) == Array((1...succeeded.count).reversed()), "contiguous revisions")
                let head = try qpilot.qctl(["get", "--output", "json"]).json(MiddlewareList.self)
                #expect(Set(head.middleware.map(\.name)) == Set(succeeded.map { "mw-\($0)" }))
                #expect(head.revision == succeeded.count)
                // Each revision adds exactly one middleware to its predecessor.
                for summary in history.revisions {
                    #expect(summary.middleware.count == summary.revision, "\(summary)")
                }
            }
        }

        @Test("/metrics shows connected nodes, responses, push-to-ACK, fetches and admin requests")
        func metrics() async throws {
            try await withHarness(middleware: nil) { qpilot in
                try await qpilot.startEnvoy()
                let push = try qpilot.qctl(["push", "greeter", Paths.wasm("add-header").path, "--config", "\"m\"", "--wait"])
                #expect(push.status == 0, "\(push)")
                _ = try curl(["\(qpilot.adminURL)/v1/nodes"])  // a 401
                let text = try qpilot.api("GET", "/metrics").body
                #expect(text.contains(#"qpilot_connected_nodes{fleet="*"} 1"#), "a fleet no middleware names is counted under *: \(text)")
                #expect(text.contains(#"qpilot_xds_responses_total{type="ECDS"}"#))
                #expect(text.contains("qpilot_xds_push_to_ack_seconds_count"))
                #expect(text.contains(#"qpilot_module_fetches_total{result="ok"}"#))
                #expect(text.contains(#"qpilot_module_validations_total{result="valid"}"#))
                #expect(text.contains(#"qpilot_admin_requests_total{status="401"}"#))
            }
        }
    }
}
