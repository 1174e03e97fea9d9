import Foundation
import QpilotServer
import Testing
import XDS

extension Integration {
    @Suite("Live changes to qpilot.yaml")
    struct ReloadTests {
        @Test("Adding, reordering and removing middleware takes effect in the running Envoy")
        func addReorderRemove() async throws {
            try await withHarness(middleware: entry("one", config: "one", extra: ["priority: 20"])) { qpilot in
            let envoy = try await qpilot.startEnvoy()
            let pid = envoy.child.process.processIdentifier
            #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["one"])

            // Add a second middleware after the first.
            var generation = qpilot.generation
            try qpilot.rewrite(middleware: [
                entry("one", config: "one", extra: ["priority: 20"]),
                entry("two", config: "two", extra: ["priority: 10"]),
            ].joined(separator: "\n"))
            try await qpilot.waitForGeneration(after: generation)
            try await eventually("Envoy to run both middleware") {
                try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["one", "two"]
            }
            try await eventually("node in sync") { qpilot.isInSync("envoy-1") }

            // Reorder by priority.
            generation = qpilot.generation
            try qpilot.rewrite(middleware: [
                entry("one", config: "one", extra: ["priority: 5"]),
                entry("two", config: "two", extra: ["priority: 10"]),
            ].joined(separator: "\n"))
            try await qpilot.waitForGeneration(after: generation)
            try await eventually("Envoy to run them in the new order") {
                try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["two", "one"]
            }

            // Remove one.
            generation = qpilot.generation
            try qpilot.rewrite(middleware: entry("two", config: "two"))
            try await qpilot.waitForGeneration(after: generation)
            try await eventually("Envoy to drop the removed middleware") {
                try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["two"]
            }
            try await eventually("node in sync with the latest versions") { qpilot.isInSync("envoy-1") }
            let status = try #require(qpilot.status("envoy-1"))
            let snapshot = try #require(qpilot.runtime.cache.snapshot(for: "default"))
            #expect(status.acked[.listener] == snapshot.version(of: .listener))
            // Middleware by middleware: Envoy's own ECDS version_info stays at its last response,
            // and removing a middleware sends none.
            let desired = snapshot.resources(of: .extensionConfig).mapValues(\.version)
            #expect(status.ackedFilters.filter { desired[$0.key] != nil } == desired)
            // No restart: the same process served every step.
            #expect(envoy.child.process.isRunning && envoy.child.process.processIdentifier == pid)
            }
        }

        @Test(
            "A bad qpilot.yaml is refused with its line and field, and the running config stays",
            arguments: [
                ("unknown field", "  - name: one\n    source: SOURCE\n    colour: red\n", "unknown field 'colour'"),
                ("wrong type", "  - name: one\n    source: SOURCE\n    priority: high\n", "expected a whole number"),
                ("duplicate name", "  - name: one\n    source: SOURCE\n  - name: one\n    source: SOURCE\n", "duplicate middleware name 'one'"),
                ("missing module", "  - name: one\n    source: /nonexistent/module.wasm\n", "cannot read module"),
            ])
        func badConfigKeepsRunningConfig(_ testCase: (String, String, String)) async throws {
            let (_, middleware, expected) = testCase
            try await withHarness(middleware: entry("good", config: "kept")) { qpilot in
            try await qpilot.startEnvoy()
            let before = qpilot.runtime.cache.snapshot(for: "default")?.version

            try qpilot.rewrite(middleware: middleware.replacingOccurrences(of: "SOURCE", with: Paths.wasm("add-header").path))
            try await eventually("qpilot to refuse the file") { qpilot.runtime.writer.status.lastError != nil }
            let error = try #require(qpilot.runtime.writer.status.lastError)
            #expect(error.contains(expected), "\(error)")
            #expect(error.hasPrefix("line "), "the message names the line: \(error)")
            #expect(qpilot.runtime.cache.snapshot(for: "default")?.version == before)
            #expect(try qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config") == ["kept"])
            }
        }
    }
}
