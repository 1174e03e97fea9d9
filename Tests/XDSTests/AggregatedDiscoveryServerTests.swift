import EnvoyAPI
import Foundation
import QpilotAPI
import GRPCCore
import Logging
import SwiftProtobuf
import Testing
import XDS

/// Hands what the server writes to the test, in order.
private struct StreamWriter<Element: Sendable>: RPCWriterProtocol {
    let continuation: AsyncStream<Element>.Continuation

    func write(_ element: Element) async throws { continuation.yield(element) }

    func write(contentsOf elements: some Sequence<Element>) async throws {
        for element in elements { continuation.yield(element) }
    }
}

/// One SotW ADS stream against a real `AggregatedDiscoveryServer`, in memory.
private struct SotWHarness {
    let requests: AsyncThrowingStream<Envoy_Service_Discovery_V3_DiscoveryRequest, any Error>.Continuation
    var responses: AsyncStream<Envoy_Service_Discovery_V3_DiscoveryResponse>.Iterator
    let server: Task<Void, any Error>

    init(cache: SnapshotCache, nodes: NodeRegistry, limits: AggregatedDiscoveryServer.Limits = .init()) {
        let (requestStream, requests) = AsyncThrowingStream.makeStream(
            of: Envoy_Service_Discovery_V3_DiscoveryRequest.self, throwing: (any Error).self)
        let (responseStream, responseContinuation) = AsyncStream.makeStream(of: Envoy_Service_Discovery_V3_DiscoveryResponse.self)
        let discovery = AggregatedDiscoveryServer(
            watcher: cache, nodes: nodes, logger: Logger(label: "qpilot-tests", factory: { _ in SwiftLogNoOpLogHandler() }),
            limits: limits)
        let context = ServerContext(
            descriptor: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Method.StreamAggregatedResources.descriptor,
            remotePeer: "in-memory", localPeer: "in-memory", cancellation: ServerContext.RPCCancellationHandle())
        self.requests = requests
        self.responses = responseStream.makeAsyncIterator()
        self.server = Task {
            defer { responseContinuation.finish() }
            try await discovery.streamAggregatedResources(
                request: RPCAsyncSequence(wrapping: requestStream),
                response: RPCWriter(wrapping: StreamWriter(continuation: responseContinuation)),
                context: context)
        }
    }

    func send(_ request: Envoy_Service_Discovery_V3_DiscoveryRequest) { requests.yield(request) }

    mutating func next() async -> Envoy_Service_Discovery_V3_DiscoveryResponse? { await responses.next() }

    static func node(_ id: String, fleet: String) -> Envoy_Config_Core_V3_Node {
        var node = Envoy_Config_Core_V3_Node()
        node.id = id
        node.cluster = fleet
        node.userAgentName = "envoy"
        return node
    }
}

@Suite("ADS server, in memory")
struct AggregatedDiscoveryServerTests {
    @Test("a stream registers its node and fleet, serves the fleet's snapshot and records ACKs, NACKs and responses")
    func sotwStream() async throws {
        let cache = SnapshotCache()
        let nodes = NodeRegistry()
        let fallback = try Fixtures.snapshot()
        let edge = try Fixtures.snapshot(extraCluster: "edge_only")
        try cache.publish(byFleet: ["edge": edge], fallback: fallback)
        var harness = SotWHarness(cache: cache, nodes: nodes)

        var first = Fixtures.sotw(.cluster)
        first.node = SotWHarness.node("envoy-1", fleet: "edge")
        harness.send(first)
        let clusters = try #require(await harness.next())
        #expect(clusters.typeURL == ResourceType.cluster.typeURL)
        #expect(clusters.versionInfo == edge.version(of: .cluster), "the fleet's own snapshot, not the fallback")
        #expect(try clusters.resources.map { try Envoy_Config_Cluster_V3_Cluster(unpackingAny: $0).name }.contains("edge_only"))

        let status = try #require(nodes.status(of: "envoy-1"))
        #expect(status.fleet == "edge")
        #expect(status.protocolFlavour == "sotw")
        #expect(status.connected)
        #expect(status.responses[.cluster] == 1)
        #expect(status.sent[.cluster] == edge.version(of: .cluster))

        // ACK, then a request that answers, so the ACK is known to be processed.
        harness.send(Fixtures.sotw(.cluster, version: clusters.versionInfo, nonce: clusters.nonce))
        harness.send(Fixtures.sotw(.listener))
        let listeners = try #require(await harness.next())
        #expect(listeners.typeURL == ResourceType.listener.typeURL)
        #expect(nodes.status(of: "envoy-1")?.acked[.cluster] == edge.version(of: .cluster))

        // A new snapshot for the fleet reaches the stream; Envoy rejects it.
        let edge2 = try Fixtures.snapshot(extraCluster: "edge_only", clusterTimeout: 9)
        try cache.publish(byFleet: ["edge": edge2], fallback: fallback)
        harness.send(Fixtures.sotw(.listener, version: listeners.versionInfo, nonce: listeners.nonce))
        let clusters2 = try #require(await harness.next())
        #expect(clusters2.versionInfo == edge2.version(of: .cluster))
        harness.send(Fixtures.sotw(.cluster, version: clusters.versionInfo, nonce: clusters2.nonce, error: "bad timeout"))
        harness.send(Fixtures.sotw(.route, names: ["main_route"]))
        let routes = try #require(await harness.next())
        #expect(routes.typeURL == ResourceType.route.typeURL, "no CDS resend after the NACK")
        let nacked = try #require(nodes.status(of: "envoy-1"))
        #expect(nacked.lastNack?.message == "bad timeout")
        #expect(nacked.lastNack?.version == edge2.version(of: .cluster))
        #expect(nacked.syncState(against: edge2) == .nacked)

        harness.requests.finish()
        try await harness.server.value
        #expect(nodes.status(of: "envoy-1")?.connected == false)
        #expect(cache.watcherCount == 0, "the stream's watch ends with it")
    }

    @Test("a first request without a node id is refused with invalidArgument")
    func noNode() async throws {
        let cache = SnapshotCache()
        try cache.publish(byFleet: [:], fallback: try Fixtures.snapshot())
        let harness = SotWHarness(cache: cache, nodes: NodeRegistry())
        harness.send(Fixtures.sotw(.cluster))
        let error = await #expect(throws: RPCError.self) { try await harness.server.value }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("node") == true)
    }

    @Test("a reconnecting Envoy that already holds the current version is recorded as having ACKed it")
    func reconnectIsRecorded() async throws {
        let cache = SnapshotCache()
        let nodes = NodeRegistry()
        let snapshot = try Fixtures.snapshot()
        try cache.publish(byFleet: [:], fallback: snapshot)
        var harness = SotWHarness(cache: cache, nodes: nodes)

        var first = Fixtures.sotw(.cluster, version: snapshot.version(of: .cluster))
        first.node = SotWHarness.node("envoy-2", fleet: "core")
        harness.send(first)
        harness.send(Fixtures.sotw(.listener))
        let response = try #require(await harness.next())
        #expect(response.typeURL == ResourceType.listener.typeURL, "the CDS version Envoy holds is not resent")

        // The server's first snapshot arrives after the first request; the reconnect still
        // counts as an ACK of the version Envoy holds.
        #expect(nodes.status(of: "envoy-2")?.acked[.cluster] == snapshot.version(of: .cluster))
        harness.requests.finish()
        try await harness.server.value
    }

    @Test("a node id or fleet longer than the limit is refused before the node is registered")
    func longIdentity() async throws {
        let cache = SnapshotCache()
        try cache.publish(byFleet: [:], fallback: try Fixtures.snapshot())
        let nodes = NodeRegistry()
        for (id, fleet) in [(String(repeating: "n", count: 20_000), "edge"), ("envoy-1", String(repeating: "f", count: 257))] {
            let harness = SotWHarness(cache: cache, nodes: nodes)
            var first = Fixtures.sotw(.cluster)
            first.node = SotWHarness.node(id, fleet: fleet)
            harness.send(first)
            let error = await #expect(throws: RPCError.self) { try await harness.server.value }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.contains("longer than 256 bytes") == true)
        }
        #expect(nodes.all().isEmpty)
    }

    @Test("a stream that subscribes to more names than the limit is ended with resourceExhausted")
    func tooManyNames() async throws {
        let cache = SnapshotCache()
        try cache.publish(byFleet: [:], fallback: try Fixtures.snapshot())
        var limits = AggregatedDiscoveryServer.Limits()
        limits.maxNames = 100
        let harness = SotWHarness(cache: cache, nodes: NodeRegistry(), limits: limits)
        var first = Fixtures.sotw(.route, names: (0..<101).map { "route-\($0)" })
        first.node = SotWHarness.node("envoy-1", fleet: "edge")
        harness.send(first)
        let error = await #expect(throws: RPCError.self) { try await harness.server.value }
        #expect(error?.code == .resourceExhausted)
    }

    @Test("a NACK's message is stored cut to a bounded length, with control characters made harmless")
    func nackMessageShown() async throws {
        let cache = SnapshotCache()
        let nodes = NodeRegistry()
        try cache.publish(byFleet: [:], fallback: try Fixtures.snapshot())
        var harness = SotWHarness(cache: cache, nodes: nodes)
        var first = Fixtures.sotw(.cluster)
        first.node = SotWHarness.node("envoy-1", fleet: "edge")
        harness.send(first)
        let clusters = try #require(await harness.next())
        let hostile = "\u{1B}[2J\u{1B}]0;owned\u{07}" + String(repeating: "x", count: 5000)
        harness.send(Fixtures.sotw(.cluster, nonce: clusters.nonce, error: hostile))
        harness.send(Fixtures.sotw(.listener))
        _ = try #require(await harness.next())
        let message = try #require(nodes.status(of: "envoy-1")?.lastNack?.message)
        #expect(!message.unicodeScalars.contains { $0.properties.generalCategory == .control && $0 != "\n" && $0 != "\t" })
        #expect(message.count == ProtocolEvent.maxMessageLength + 1, "cut, with an ellipsis")
        #expect(message.hasSuffix("…"))
        harness.requests.finish()
        try await harness.server.value
    }
}
