import Foundation
import PostgresTestSupport
import QpilotAPI
import Synchronization
import Testing

extension Integration {
    /// qpilot with `store:` naming a PostgreSQL database (the test process's own server, a fresh
    /// database per test), as a separate process that is killed and started again.
    @Suite("State in PostgreSQL")
    struct PostgresStoreTests {
        /// `store:` for a new database on the test server, with the password from a file.
        static func storeSection() async throws -> String {
            let server = try await TestPostgres.shared()
            let database = try await server.createDatabase(prefix: "qpilot")
            return "store: { url: \"\(server.url(database: database))\", passwordFile: \"\(server.passwordFile.path)\" }"
        }

        /// Puts a copy of `replica`'s secrets key into a new replica's data directory.
        static func copyKey(of replica: QpilotProcess) -> (URL) throws -> Void {
            let key = replica.directory.appendingPathComponent("data/secrets.key")
            return { directory in
                let data = directory.appendingPathComponent("data")
                try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                try FileManager.default.copyItem(at: key, to: data.appendingPathComponent("secrets.key"))
            }
        }

        @Test("kill -9 after a push: the restart reads the middleware, its revision and its secret back from PostgreSQL; Envoy's versions are unchanged")
        func killAfterPush() async throws {
            let qpilot = try await QpilotProcess(extra: try await Self.storeSection())
            defer { qpilot.stop() }
            let envoy = try await qpilot.startEnvoy()
            defer { envoy.stop() }

            let value = "sk-live-\(UUID().uuidString)"
            #expect(try qpilot.qctl(["secret", "set", "api-key", "--from-literal", value]).status == 0)
            let push = try qpilot.qctl([
                "push", "greeter", Paths.wasm("add-header").path, "--config", "\"key=${secret:api-key}\"", "--wait", "--timeout", "30s",
            ])
            #expect(push.status == 0, "\(push)")
            #expect(try qpilot.proxied().body.contains("key=\(value)"))
            qpilot.kill9()
            let before = DurabilityTests.versions(try envoy.configDump())
            #expect(!before.isEmpty)
            #expect(
                !FileManager.default.fileExists(atPath: qpilot.directory.appendingPathComponent("data/state.sqlite").path),
                "the state is in PostgreSQL, not in a SQLite file")
            #expect(qpilot.logs.contains("state in PostgreSQL"), "\(qpilot.logs.suffix(2000))")

            try await qpilot.start()
            let chain = try qpilot.qctl(["get", "--output", "json"]).json(MiddlewareList.self)
            #expect(chain.middleware.map(\.name) == ["greeter"])
            #expect(chain.revision == 1)
            let history = try qpilot.qctl(["history", "--output", "json"]).json(RevisionList.self)
            #expect(history.revisions.map(\.action) == ["push greeter"])
            #expect(try qpilot.qctl(["secret", "list"]).stdout.contains("api-key"))

            try await eventually("Envoy to reconnect and be in sync", timeout: .seconds(30)) {
                let status = try qpilot.qctl(["status", "--output", "json"])
                return (try? status.json(NodeList.self))?.nodes.first.map { $0.connected && $0.state == .inSync } ?? false
            }
            #expect(DurabilityTests.versions(try envoy.configDump()) == before, "the same revision gives the same versions")
            #expect(try qpilot.proxied().body.contains("key=\(value)"))
            #expect(!qpilot.logs.contains(value), "the secret value is not logged")
        }

        @Test("three replicas on one database: a push to the first reaches an Envoy on the second; the third lists it; a secret set on the third reaches that Envoy")
        func replicasShareWrites() async throws {
            let store = try await Self.storeSection()
            let first = try await QpilotProcess(extra: store)
            defer { first.stop() }
            // Every replica needs the same secrets key: the others get a copy of the first's.
            let second = try await QpilotProcess(extra: store, prepare: Self.copyKey(of: first))
            defer { second.stop() }
            let third = try await QpilotProcess(extra: store, prepare: Self.copyKey(of: first))
            defer { third.stop() }
            let envoy = try await second.startEnvoy()
            defer { envoy.stop() }

            #expect(try first.qctl(["secret", "set", "api-key", "--from-literal", "first-value"]).status == 0)
            let push = try first.qctl(["push", "greeter", Paths.wasm("add-header").path, "--config", "\"key=${secret:api-key}\""])
            #expect(push.status == 0, "\(push)")
            try await eventually("the Envoy on the second replica to serve the middleware", timeout: .seconds(30)) {
                (try? second.proxied().body.contains("key=first-value")) ?? false
            }
            try await eventually("the second replica to see its node ACK the middleware", timeout: .seconds(30)) {
                (try? second.node("envoy-1")).map { $0?.state == .inSync } ?? false
            }
            let listed = try third.qctl(["get", "--output", "json"]).json(MiddlewareList.self)
            #expect(listed.middleware.map(\.name) == ["greeter"])
            #expect(listed.revision == 1)

            #expect(try third.qctl(["secret", "set", "api-key", "--from-literal", "third-value"]).status == 0)
            try await eventually("the secret set on the third replica to reach the Envoy on the second", timeout: .seconds(30)) {
                (try? second.proxied().body.contains("key=third-value")) ?? false
            }
            #expect(!second.logs.contains("third-value") && !third.logs.contains("third-value"), "the value is not logged")
        }

        @Test("kill -9 of the replica an Envoy is connected to: Envoy reconnects to the other (from `qpilot bootstrap --xds a,b`), its config versions are unchanged, and traffic never stops")
        func failover() async throws {
            let store = try await Self.storeSection()
            let first = try await QpilotProcess(extra: store)
            defer { first.stop() }
            let second = try await QpilotProcess(extra: store, replicaOf: first, prepare: Self.copyKey(of: first))
            defer { second.stop() }
            #expect(try first.qctl(["push", "greeter", Paths.wasm("add-header").path, "--config", "\"replicated\""]).status == 0)

            let adminPort = try freePort()
            let binary = Paths.repository.appendingPathComponent(".build/debug/qpilot").path
            let bootstrap = try shell(
                "'\(binary)' bootstrap --node-id envoy-1 --admin-port \(adminPort) --xds 127.0.0.1:\(first.xdsPort),127.0.0.1:\(second.xdsPort)",
                in: first.directory)
            #expect(bootstrap.status == 0, "\(bootstrap.stderr)")
            let bootstrapFile = first.directory.appendingPathComponent("envoy-replicas.yaml")
            try bootstrap.stdout.write(to: bootstrapFile, atomically: true, encoding: .utf8)
            let envoy = try await EnvoyProcess(bootstrap: bootstrapFile, nodeID: "envoy-1", adminPort: adminPort, directory: first.directory)
            defer { envoy.stop() }

            /// The replica whose `qctl status` shows the node connected and in sync, if one does.
            func serving() -> QpilotProcess? {
                [first, second].first { replica in
                    replica.child?.process.isRunning == true
                        && ((try? replica.node("envoy-1")).map { $0?.connected == true && $0?.state == .inSync } ?? false)
                }
            }
            var connected: QpilotProcess?
            try await eventually("Envoy to be in sync with one replica", timeout: .seconds(30)) {
                connected = serving()
                return connected != nil && ((try? first.proxied().body.contains("replicated")) ?? false)
            }
            let dead = try #require(connected)
            let other = dead === first ? second : first
            let before = DurabilityTests.versions(try envoy.configDump())
            #expect(!before.isEmpty)

            // Traffic through Envoy all along, from before the kill to after the reconnection.
            let failures = Mutex<[String]>([])
            let requests = Mutex(0)
            let traffic = Task.detached {
                while !Task.isCancelled {
                    let result = try? first.proxied()
                    requests.withLock { $0 += 1 }
                    if result?.status != 200 || result?.body.contains("replicated") != true {
                        failures.withLock { $0.append("\(result.map { "\($0.status)" } ?? "no answer")") }
                    }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            try await Task.sleep(for: .milliseconds(500))
            dead.kill9()
            try await eventually("Envoy to reconnect to the other replica", timeout: .seconds(60)) {
                (try? other.node("envoy-1")).map { $0?.connected == true && $0?.state == .inSync } ?? false
            }
            try await Task.sleep(for: .seconds(1))
            traffic.cancel()
            _ = await traffic.value
            let after = DurabilityTests.versions(try envoy.configDump())
            #expect(after == before, "no new version: the other replica built the same config; before \(before), after \(after)")
            #expect(failures.withLock { $0 }.isEmpty, "traffic never stopped: \(failures.withLock { $0 })")
            #expect(requests.withLock { $0 } >= 10)
        }

        @Test("the offline secret commands refuse a PostgreSQL store and say what to use; a bad store URL stops the start with its line")
        func offlineCommandsAndBadURL() async throws {
            let qpilot = try await QpilotProcess(extra: try await Self.storeSection())
            defer { qpilot.stop() }
            qpilot.kill9()
            let binary = "'\(Paths.repository.appendingPathComponent(".build/debug/qpilot").path)'"
            func qpilotCommand(_ arguments: String) throws -> (status: Int32, stdout: String, stderr: String) {
                try shell("timeout 30 \(binary) \(arguments) --config qpilot.yaml", in: qpilot.directory)
            }
            let set = try qpilotCommand("secret set api-key --from-literal v")
            #expect(set.status == 2, "\(set)")
            #expect(set.stderr.contains("use `qctl secret` against a running replica"), "\(set.stderr)")
            let rotate = try qpilotCommand("rotate-key")
            #expect(rotate.status == 2, "\(rotate)")
            #expect(rotate.stderr.contains("not supported yet"), "\(rotate.stderr)")

            let config = qpilot.directory.appendingPathComponent("qpilot.yaml")
            let text = try String(contentsOf: config, encoding: .utf8)
            let broken = text.split(separator: "\n").map { $0.hasPrefix("store:") ? "store: mysql://qpilot@127.0.0.1/db" : String($0) }
            try broken.joined(separator: "\n").write(to: config, atomically: true, encoding: .utf8)
            let refused = try qpilotCommand("serve")
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("store") && refused.stderr.contains("postgres://"), "\(refused.stderr)")
        }
    }
}
