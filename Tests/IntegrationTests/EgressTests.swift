import Foundation
import QpilotServer
import Testing
import XDS

extension Integration {
    @Suite("Egress through middleware")
    struct EgressTests {
        @Test("Envoy gets listeners, clusters, routes and ECDS from qpilot; traffic shows the middleware", arguments: [false, true])
        func egressThroughMiddleware(delta: Bool) async throws {
            try await withHarness(middleware: entry("greeter", config: "{ greeting: hello }")) { qpilot in
            let envoy = try await qpilot.startEnvoy(delta: delta)

            let result = try qpilot.proxied("/hello")
            #expect(result.status == 200, "\(qpilot.logs)")
            #expect(try qpilot.echoedHeaders(result, "x-qpilot-config") == [#"{"greeting":"hello"}"#])
            #expect(result.header("x-qpilot-middleware") == ["add-header"])

            // Host-routed, without the proxy form.
            let hostRouted = try curl([
                "-H", "Host: \(qpilot.upstream.authority)", "http://127.0.0.1:\(qpilot.egressPort)/routed",
            ])
            #expect(hostRouted.status == 200)
            #expect(try qpilot.echoedHeaders(hostRouted, "x-qpilot-config") == [#"{"greeting":"hello"}"#])

            // CONNECT: the tunnel carries the request through untouched by HTTP filters.
            let tunnelled = try curl(["-p", "-x", "http://127.0.0.1:\(qpilot.egressPort)", "http://\(qpilot.upstream.authority)/tunnel"])
            #expect(tunnelled.status == 200)

            // Every type the node holds was ACKed at the snapshot's version.
            let status = try #require(qpilot.status("envoy-1"))
            let snapshot = try #require(qpilot.runtime.cache.snapshot(for: "default"))
            #expect(status.protocolFlavour == (delta ? "delta" : "sotw"))
            for type in [ResourceType.cluster, .listener, .route, .extensionConfig] {
                #expect(status.acked[type] == snapshot.version(of: type), "\(type)")
            }
            #expect(status.lastNack == nil)
            #expect(try envoy.stat("http.qpilot_egress.downstream_rq_total").map { $0 >= 3 } == true)
            }
        }

        @Test("Nodes of two fleets get their own middleware")
        func fleetsAreSeparate() async throws {
            try await withHarness(
                middleware: [
                    entry("everyone", config: "all"),
                    entry("blue-only", config: "blue", extra: ["fleets: [blue]"]),
                ].joined(separator: "\n")) { qpilot in
            let blue = try await qpilot.startEnvoy(nodeID: "blue-1", fleet: "blue")
            _ = blue
            let result = try qpilot.proxied()
            // Same phase and priority: ordered by name, so blue-only runs before everyone.
            #expect(try qpilot.echoedHeaders(result, "x-qpilot-config") == ["blue", "all"])
            #expect(qpilot.status("blue-1")?.fleet == "blue")
            #expect(
                qpilot.runtime.cache.snapshot(for: "blue")?.version
                    != qpilot.runtime.cache.snapshot(for: "green")?.version)
            #expect(qpilot.runtime.cache.snapshot(for: "green")?.resources(of: .extensionConfig).count == 1)
            }
        }
    }
}
