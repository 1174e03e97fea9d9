import Foundation
import Modules
import QpilotServer
import Testing
import XDS

extension Integration {
    @Suite("From an OCI registry to Envoy")
    struct OCIEndToEndTests {
        @Test("A module pulled by qpilot from the local registry reaches Envoy in each delivery mode", arguments: ["inline", "file", "remote"])
        func pulledModuleReachesEnvoy(delivery: String) async throws {
            let registry = try await Registry(auth: .basic)
            defer { registry.stop() }
            try OCITests.push(registry, kind: .compat, repository: "qpilot/add-header", tag: "1.0")
            let credentials = try registry.credentialsFile()
            let middleware = """
                  - name: from-registry
                    source: oci://\(registry.host)/qpilot/add-header:1.0
                    config: pulled-\(delivery)
                    delivery: \(delivery)
                """
            try await withHarness(middleware: middleware, extra: "") { qpilot in
                _ = qpilot
            } catchingSetup: { error in
                // The harness's default modules section has no credentials: the pull is refused.
                #expect("\(error)".contains("no credentials are configured"), "\(error)")
            }
            try await withHarness(middleware: middleware, modulesExtra: "credentialsFile: \(credentials.path)") { qpilot in
                try await qpilot.startEnvoy()
                try await eventually("the pulled module to run") {
                    (try? qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config")) == ["pulled-\(delivery)"]
                }
                let status = try #require(qpilot.status("envoy-1"))
                #expect(status.lastNack == nil)
            }
        }

        @Test("pullPolicy Always rolls out a new digest of a tag; a registry outage keeps the last good module serving")
        func pullPolicyAlways() async throws {
            let registry = try await Registry(auth: .anonymous)
            defer { registry.stop() }
            let first = try OCITests.module(variant: "one")
            try OCITests.push(registry, kind: .cncf, repository: "qpilot/moving", tag: "stable", module: first)
            let middleware = """
                  - name: moving
                    source: oci://\(registry.host)/qpilot/moving:stable
                    pullPolicy: Always
                    config: moving
                """
            try await withHarness(middleware: middleware, modulesExtra: "refreshSeconds: 1") { qpilot in
                try await qpilot.startEnvoy()
                #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["moving"])
                let firstSHA = try LoadedModule(bytes: first, origin: "test").sha256
                #expect(qpilot.runtime.moduleStore.all().contains(firstSHA))

                // The tag moves: qpilot notices on its own and Envoy ACKs the new module.
                let second = try OCITests.module(variant: "two")
                let secondSHA = try LoadedModule(bytes: second, origin: "test").sha256
                let before = qpilot.runtime.cache.snapshot(for: "default")?.version(of: .extensionConfig)
                try OCITests.push(registry, kind: .cncf, repository: "qpilot/moving", tag: "stable", module: second)
                try await eventually("the new digest to roll out", timeout: .seconds(30)) {
                    qpilot.runtime.cache.snapshot(for: "default")?.version(of: .extensionConfig) != before
                        && qpilot.isInSync("envoy-1")
                }
                #expect(qpilot.runtime.moduleStore.all().contains(secondSHA))
                let rolledOut = qpilot.runtime.cache.snapshot(for: "default")?.version

                // An outage: reconciles fail quietly and the last good module keeps serving.
                registry.stopServer()
                let generation = qpilot.generation
                try await qpilot.waitForGeneration(after: generation + 1)
                #expect(qpilot.runtime.writer.status.lastError == nil)
                #expect(qpilot.runtime.cache.snapshot(for: "default")?.version == rolledOut)
                #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["moving"])

                // The registry recovers with a newer module: it is picked up.
                try await registry.startServer()
                try OCITests.push(registry, kind: .cncf, repository: "qpilot/moving", tag: "stable", module: OCITests.module(variant: "three"))
                try await eventually("the recovered registry's module to roll out", timeout: .seconds(30)) {
                    qpilot.runtime.cache.snapshot(for: "default")?.version != rolledOut && qpilot.isInSync("envoy-1")
                }
            }
        }

        @Test("A sha256 in qpilot.yaml that does not match the pulled module is refused before any config is pushed")
        func sha256Mismatch() async throws {
            let registry = try await Registry(auth: .anonymous)
            defer { registry.stop() }
            try OCITests.push(registry, kind: .cncf, repository: "qpilot/pinned", tag: "1.0")
            let module = try LoadedModule(bytes: OCITests.module, origin: "test")
            let source = "oci://\(registry.host)/qpilot/pinned:1.0"
            try await withHarness(middleware: "  - name: pinned\n    source: \(source)\n    sha256: \(module.sha256)\n    config: pinned") { qpilot in
                try await qpilot.startEnvoy()
                #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["pinned"])
                let before = qpilot.runtime.cache.snapshot(for: "default")?.version
                let responses = qpilot.status("envoy-1")?.responses

                let wrong = String(repeating: "ab", count: 32)
                try qpilot.rewrite(middleware: "  - name: pinned\n    source: \(source)\n    sha256: \(wrong)\n    config: changed")
                try await eventually("qpilot to refuse the file") { qpilot.runtime.writer.status.lastError != nil }
                let error = try #require(qpilot.runtime.writer.status.lastError)
                #expect(error.contains("middleware[0].sha256"), "\(error)")
                #expect(error.contains(wrong), "\(error)")
                #expect(qpilot.runtime.cache.snapshot(for: "default")?.version == before)
                #expect(qpilot.status("envoy-1")?.responses == responses, "nothing was pushed")
                #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["pinned"])
            }
        }
    }
}
