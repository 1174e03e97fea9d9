import Foundation
import QpilotAPI
import Testing

extension Integration {
    /// qpilot as a separate process, killed with SIGKILL and started again on the same data.
    @Suite("Durability: kill -9 and restart")
    struct DurabilityTests {
        /// The `version_info` of each dynamic resource in a config dump, in order.
        static func versions(_ dump: String) -> [String] {
            dump.split(separator: "\n").filter { $0.contains("\"version_info\"") }
                .map { $0.trimmingCharacters(in: .whitespaces) }
        }

        @Test("After kill -9 right after a push: the middleware, its revision and its secret are there, and Envoy's versions are unchanged")
        func killAfterPush() async throws {
            let qpilot = try await QpilotProcess()
            defer { qpilot.stop() }
            let envoy = try await qpilot.startEnvoy()
            defer { envoy.stop() }

            let value = "sk-live-\(UUID().uuidString)"
            #expect(try qpilot.qctl(["secret", "set", "api-key", "--from-literal", value]).status == 0)
            let push = try qpilot.qctl([
                "push", "greeter", Paths.wasm("add-header").path, "--config", "\"key=${secret:api-key}\"", "--wait", "--timeout", "30s",
            ])
            #expect(push.status == 0, "\(push)")
            qpilot.kill9()

            // The secret reached the module (only there: the data path is where it is used).
            let echoed = try qpilot.proxied().body
            #expect(echoed.contains("key=\(value)"), "\(echoed)")
            let before = Self.versions(try envoy.configDump())
            #expect(!before.isEmpty)

            try await qpilot.start()
            let chain = try qpilot.qctl(["get", "--output", "json"]).json(MiddlewareList.self)
            #expect(chain.middleware.map(\.name) == ["greeter"])
            #expect(chain.revision == 1)
            let history = try qpilot.qctl(["history", "--output", "json"]).json(RevisionList.self)
            #expect(history.revisions.map(\.action) == ["push greeter"])
            #expect(try qpilot.qctl(["secret", "list"]).stdout.contains("api-key"))

            // Envoy reconnects, is in sync, and holds exactly what it held.
            try await eventually("Envoy to reconnect and be in sync", timeout: .seconds(30)) {
                let status = try qpilot.qctl(["status", "--output", "json"])
                return (try? status.json(NodeList.self))?.nodes.first.map { $0.connected && $0.state == .inSync } ?? false
            }
            #expect(Self.versions(try envoy.configDump()) == before)
            #expect(try qpilot.proxied().body.contains("key=\(value)"))
            #expect(!qpilot.logs.contains(value), "the secret value is not logged")
        }

        @Test("SIGTERM with Envoy connected: qpilot ends its ADS streams and exits within seconds; Envoy follows the next qpilot")
        func stopWithEnvoyConnected() async throws {
            let qpilot = try await QpilotProcess()
            defer { qpilot.stop() }
            let envoy = try await qpilot.startEnvoy()
            defer { envoy.stop() }
            #expect(try qpilot.qctl(["push", "greeter", Paths.wasm("add-header").path, "--config", "\"one\"", "--wait"]).status == 0)

            let stopped = try #require(qpilot.terminate(limit: .seconds(15)), "qpilot still ran 15 s after SIGTERM")
            #expect(stopped.took < .seconds(8), "qpilot took \(stopped.took) to stop")
            #expect(stopped.status == 0, "a graceful stop exits 0: \(qpilot.logs.suffix(2000))")
            // The streams ended by themselves: the shutdown did not have to wait out its grace
            // period and cancel them (ServiceLifecycle logs that at debug level, which this qpilot runs at).
            #expect(!qpilot.logs.contains("Graceful shutdown took longer than allowed"), "\(qpilot.logs.suffix(2000))")

            // The next qpilot on the same ports: Envoy reconnects to it, and takes a new push.
            try await qpilot.start()
            try await eventually("Envoy to reconnect to the new qpilot", timeout: .seconds(30)) {
                let status = try qpilot.qctl(["status", "--output", "json"])
                return (try? status.json(NodeList.self))?.nodes.first.map { $0.connected && $0.state == .inSync } ?? false
            }
            #expect(try qpilot.qctl(["push", "greeter", Paths.wasm("add-header").path, "--config", "\"two\"", "--wait"]).status == 0)
            #expect(try qpilot.proxied().body.contains("two"))
        }

        @Test("A lost secrets key has a way back: forget-all and set the secrets offline, then qpilot starts and Envoy gets the new value")
        func lostSecretsKey() async throws {
            let qpilot = try await QpilotProcess()
            defer { qpilot.stop() }
            let envoy = try await qpilot.startEnvoy()
            defer { envoy.stop() }
            #expect(try qpilot.qctl(["secret", "set", "api-key", "--from-literal", "old-value"]).status == 0)
            let push = try qpilot.qctl([
                "push", "greeter", Paths.wasm("add-header").path, "--config", "\"key=${secret:api-key}\"", "--wait", "--timeout", "30s",
            ])
            #expect(push.status == 0, "\(push)")
            qpilot.kill9()
            try FileManager.default.removeItem(at: qpilot.directory.appendingPathComponent("data/secrets.key"))

            let binary = "'\(Paths.repository.appendingPathComponent(".build/debug/qpilot").path)'"
            func qpilotCommand(_ arguments: String) throws -> (status: Int32, stdout: String, stderr: String) {
                try shell("timeout 30 \(binary) \(arguments) --config qpilot.yaml", in: qpilot.directory)
            }
            // Without the key the start stops, and says what to do.
            let refused = try qpilotCommand("serve")
            #expect(refused.status == 2, "\(refused.stderr)")
            #expect(refused.stderr.contains("qpilot secret forget-all --yes"), "\(refused.stderr)")

            let forget = try qpilotCommand("secret forget-all --yes")
            #expect(forget.status == 0, "\(forget.stderr)")
            #expect(forget.stdout.contains("deleted 1 secret"), "\(forget.stdout)")
            // Now the head revision names a secret that is not set: the start says how to set it offline.
            let missing = try qpilotCommand("serve")
            #expect(missing.status == 2, "\(missing.stderr)")
            #expect(missing.stderr.contains("qpilot secret set api-key"), "\(missing.stderr)")

            let set = try qpilotCommand("secret set api-key --from-literal new-value")
            #expect(set.status == 0, "\(set.stderr)")
            try await qpilot.start()
            try await eventually("Envoy to get the new value", timeout: .seconds(30)) {
                (try? qpilot.proxied().body.contains("key=new-value")) ?? false
            }
            // With qpilot running, the offline command refuses: the directory is in use.
            let busy = try qpilotCommand("secret set api-key --from-literal other")
            #expect(busy.status == 1, "\(busy.stderr)")
            #expect(busy.stderr.contains("use `qctl secret`"), "\(busy.stderr)")
        }

        @Test("Pushes torn by kill -9 leave a readable store: contiguous history, every acknowledged push present")
        func tornWrites() async throws {
            let qpilot = try await QpilotProcess()
            defer { qpilot.stop() }
            let module = Paths.wasm("add-header").path
            #expect(try qpilot.qctl(["push", "base", module, "--config", "\"0\""]).status == 0)

            let connection = ["--server", qpilot.adminURL, "--token-file", qpilot.tokenFile.path]
            // Ten pushes race the kill: some commit, some never reach qpilot, one may be cut mid-write.
            let killer = Task.detached {
                try await Task.sleep(for: .milliseconds(150))
                qpilot.kill9()
            }
            let results = try runQctlConcurrently(
                (1...10).map { ["push", "mw-\($0)", module, "--config", "\"\($0)\""] + connection }, timeout: 60)
            try await killer.value
            let acknowledged = results.enumerated().filter { $0.element.status == 0 }.map { "mw-\($0.offset + 1)" }

            try await qpilot.start()
            let history = try qpilot.qctl(["history", "--limit", "100", "--output", "json"])
            #expect(history.status == 0, "\(history)")
            let revisions = try history.json(RevisionList.self).revisions
            #expect(revisions.map(\.revision) == Array((1...revisions.count).reversed()), "contiguous revisions")
            let head = try qpilot.qctl(["get", "--output", "json"]).json(MiddlewareList.self)
            #expect(head.revision == revisions.count)
            #expect(Set(acknowledged).isSubset(of: Set(head.middleware.map(\.name))), "every push that returned 0 survived")
            #expect(head.middleware.first?.name == "base")
            for summary in revisions {
                let detail = try qpilot.qctl(["get", "--output", "json"])
                #expect(detail.status == 0)
                #expect(summary.middleware.count == summary.revision, "revision \(summary.revision) is whole")
            }
        }
    }
}
