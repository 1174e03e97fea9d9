import EnvoyAPI
import Foundation
import QpilotAPI
import SwiftProtobuf
import Testing
import XDS

@Suite("Node registry and status")
struct NodeRegistryTests {
    @Test("connect records the node as connected, with its fleet, Envoy version and protocol")
    func connect() throws {
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "envoy-1", fleet: "edge", envoyVersion: "envoy/1.40.0", flavour: "delta")
        let status = try #require(registry.status(of: "envoy-1"))
        #expect(status.nodeID == "envoy-1")
        #expect(status.fleet == "edge")
        #expect(status.envoyVersion == "envoy/1.40.0")
        #expect(status.protocolFlavour == "delta")
        #expect(status.connected)
        #expect(status.acked.isEmpty && status.sent.isEmpty && status.nacks.isEmpty && status.lastNack == nil)
        #expect(registry.status(of: "envoy-2") == nil)
        let other = registry.connect(nodeID: "envoy-0", fleet: "edge", envoyVersion: "", flavour: "sotw")
        #expect(other != stream, "every stream has its own id")
        #expect(registry.all().map(\.nodeID) == ["envoy-0", "envoy-1"])
    }

    @Test("ACKs and NACKs are recorded per type")
    func ackAndNack() throws {
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "sotw")
        registry.record(.ack(.cluster, version: "c1", resources: ["c": "1"]), nodeID: "n", stream: stream)
        registry.record(.ack(.listener, version: "l1", resources: ["l": "1"]), nodeID: "n", stream: stream)
        registry.record(.nack(.extensionConfig, version: "e2", message: "bad wasm", resources: ["m1": "2"]), nodeID: "n", stream: stream)
        registry.record(.nack(.extensionConfig, version: "e3", message: "still bad", resources: ["m2": "3"]), nodeID: "n", stream: stream)
        registry.record(.staleNonce(.cluster, nonce: "7"), nodeID: "n", stream: stream)
        registry.record(.unknownType("type.googleapis.com/x"), nodeID: "n", stream: stream)

        let status = try #require(registry.status(of: "n"))
        #expect(status.acked == [.cluster: "c1", .listener: "l1"])
        #expect(status.nacks == [.extensionConfig: 2])
        let nack = try #require(status.lastNack)
        #expect(nack.type == .extensionConfig)
        #expect(nack.version == "e3")
        #expect(nack.message == "still bad")
        #expect(nack.resource == "m2")
        #expect(status.filters.mapValues { $0.rejected?.message } == ["m1": "bad wasm", "m2": "still bad"], "each middleware on its own")
    }

    @Test("an ACK of another version of the refused middleware clears the NACK; an ACK of another type or middleware does not")
    func ackClearsNack() throws {
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "sotw")
        registry.record(.nack(.extensionConfig, version: "e2", message: "bad", resources: ["m1": "2"]), nodeID: "n", stream: stream)
        registry.record(.ack(.cluster, version: "c1", resources: [:]), nodeID: "n", stream: stream)
        registry.record(.ack(.extensionConfig, version: "e2b", resources: ["m2": "1"]), nodeID: "n", stream: stream)
        #expect(registry.status(of: "n")?.lastNack?.version == "e2")
        let changes = registry.record(.ack(.extensionConfig, version: "e3", resources: ["m1": "3"]), nodeID: "n", stream: stream)
        #expect(changes == [.forget(node: "n", resource: "m1")])
        #expect(registry.status(of: "n")?.lastNack == nil)
        #expect(registry.rejections(of: "n").isEmpty)
        #expect(registry.status(of: "n")?.nacks == [.extensionConfig: 1], "the count stays")
    }

    @Test("responses sent are counted per type, with the last version")
    func responsesCounted() throws {
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "sotw")
        registry.recordSent(.cluster, version: "c1", nodeID: "n", stream: stream)
        registry.recordSent(.cluster, version: "c2", nodeID: "n", stream: stream)
        registry.recordSent(.route, version: "r1", nodeID: "n", stream: stream)
        let status = try #require(registry.status(of: "n"))
        #expect(status.responses == [.cluster: 2, .route: 1])
        #expect(status.sent == [.cluster: "c2", .route: "r1"])
    }

    @Test("a reconnect replaces the entry; the old stream can no longer change it")
    func oldStreamIsIgnored() throws {
        let registry = NodeRegistry()
        let old = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "sotw")
        registry.record(.ack(.cluster, version: "old", resources: [:]), nodeID: "n", stream: old)
        let new = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "delta")
        #expect(registry.status(of: "n")?.acked == [:], "a new stream starts afresh")

        registry.disconnect(nodeID: "n", stream: old)
        registry.record(.ack(.cluster, version: "stale", resources: [:]), nodeID: "n", stream: old)
        registry.recordSent(.cluster, version: "stale", nodeID: "n", stream: old)
        let status = try #require(registry.status(of: "n"))
        #expect(status.connected)
        #expect(status.protocolFlavour == "delta")
        #expect(status.acked.isEmpty)
        #expect(status.sent.isEmpty)

        registry.disconnect(nodeID: "n", stream: new)
        #expect(registry.status(of: "n")?.connected == false, "kept, marked disconnected")
        #expect(registry.all().count == 1)
    }

    @Test("syncState compares ACKed versions to the snapshot")
    func syncState() throws {
        let snapshot = try Fixtures.snapshot()
        let changed = try Fixtures.snapshot(ecdsPayload: "v2")
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "sotw")
        func state(_ against: Snapshot?) throws -> SyncState {
            try #require(registry.status(of: "n")).syncState(against: against)
        }

        #expect(try state(nil) == .pending, "no snapshot yet")
        for type in [ResourceType.cluster, .extensionConfig] {
            registry.recordSent(type, version: snapshot.version(of: type), nodeID: "n", stream: stream)
        }
        #expect(try state(snapshot) == .pending, "sent, not yet ACKed")
        registry.record(.ack(.cluster, version: snapshot.version(of: .cluster), resources: [:]), nodeID: "n", stream: stream)
        #expect(try state(snapshot) == .pending, "ECDS still un-ACKed")
        let ecds = snapshot.resources(of: .extensionConfig).mapValues(\.version)
        registry.record(.ack(.extensionConfig, version: "e", resources: ["ecds_a": ecds["ecds_a"]!]), nodeID: "n", stream: stream)
        #expect(try state(snapshot) == .pending, "ecds_b still un-ACKed")
        registry.record(.ack(.extensionConfig, version: "e", resources: ["ecds_b": ecds["ecds_b"]!]), nodeID: "n", stream: stream)
        #expect(try state(snapshot) == .inSync)
        #expect(try state(changed) == .pending, "a newer snapshot is not yet held")

        let refused = changed.resources(of: .extensionConfig)["ecds_a"]!.version
        registry.record(
            .nack(.extensionConfig, version: "e2", message: "no", resources: ["ecds_a": refused]), nodeID: "n", stream: stream)
        #expect(try state(changed) == .nacked)
        #expect(try state(snapshot) == .inSync, "the node still runs the older snapshot; the refusal is of a version it does not want")
        #expect(try #require(registry.status(of: "n")).rejectedFilters(against: changed).keys.sorted() == ["ecds_a"])
    }

    @Test("status encodes as JSON with the documented sync-state names")
    func codable() throws {
        #expect(SyncState.inSync.rawValue == "in-sync")
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "v", flavour: "sotw")
        registry.record(.nack(.route, version: "r", message: "m", resources: ["r": "1"]), nodeID: "n", stream: stream)
        registry.record(.nack(.extensionConfig, version: "e", message: "m", resources: ["m1": "1"]), nodeID: "n", stream: stream)
        let status = try #require(registry.status(of: "n"))
        let data = try JSONEncoder().encode(status)
        #expect(try JSONDecoder().decode(NodeStatus.self, from: data) == status)
    }
}

@Suite("Fleet selection")
struct FleetSelectionTests {
    static func node(cluster: String, fleet: String?) -> Envoy_Config_Core_V3_Node {
        var node = Envoy_Config_Core_V3_Node()
        node.id = "envoy-1"
        node.cluster = cluster
        if let fleet {
            var metadata = Google_Protobuf_Struct()
            metadata.fields["qpilot.fleet"] = Google_Protobuf_Value(stringValue: fleet)
            metadata.fields["other"] = Google_Protobuf_Value(stringValue: "ignored")
            node.metadata = metadata
        }
        return node
    }

    @Test(
        "fleet(of:) is metadata[qpilot.fleet] when set, else node.cluster",
        arguments: [
            ("egress-cluster", nil, "egress-cluster"),
            ("egress-cluster", "edge", "edge"),
            ("egress-cluster", "", "egress-cluster"),
            ("", "edge", "edge"),
        ] as [(String, String?, String)])
    func fleet(cluster: String, metadataFleet: String?, expected: String) {
        #expect(AggregatedDiscoveryServer.fleet(of: Self.node(cluster: cluster, fleet: metadataFleet)) == expected)
    }

    @Test("a non-string qpilot.fleet is ignored")
    func nonStringFleet() {
        var node = Self.node(cluster: "c", fleet: nil)
        var metadata = Google_Protobuf_Struct()
        metadata.fields["qpilot.fleet"] = Google_Protobuf_Value(numberValue: 3)
        node.metadata = metadata
        #expect(AggregatedDiscoveryServer.fleet(of: node) == "c")
    }

    @Test("version(of:) reads Envoy's structured build version, or a free-form one")
    func version() {
        var node = Self.node(cluster: "c", fleet: nil)
        node.userAgentName = "envoy"
        #expect(AggregatedDiscoveryServer.version(of: node) == "envoy")
        var build = Envoy_Config_Core_V3_BuildVersion()
        build.version.majorNumber = 1
        build.version.minorNumber = 40
        build.version.patch = 2
        node.userAgentBuildVersion = build
        #expect(AggregatedDiscoveryServer.version(of: node) == "envoy/1.40.2")
        node.userAgentVersion = "abcd1234"
        #expect(AggregatedDiscoveryServer.version(of: node) == "envoy/abcd1234")
    }

    @Test("a second stream with a node's id is shown beside the first, never instead of it")
    func secondStreamShownBeside() throws {
        let registry = NodeRegistry()
        let real = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "envoy/1.40.0", flavour: "sotw")
        registry.record(.ack(.cluster, version: "c1", resources: [:]), nodeID: "n", stream: real)
        #expect(registry.connectedStreams(of: "n") == 1)
        let rogue = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "python", flavour: "sotw")
        registry.record(.nack(.cluster, version: "c1", message: "forged", resources: [:]), nodeID: "n", stream: rogue)

        #expect(registry.connectedStreams(of: "n") == 2)
        let streams = registry.all()
        #expect(streams.count == 2)
        #expect(streams.filter(\.connected).count == 2, "the first stream is not shown as disconnected")
        #expect(streams.map(\.envoyVersion) == ["python", "envoy/1.40.0"], "newest first")
        #expect(streams.last?.acked == [.cluster: "c1"] && streams.last?.lastNack == nil, "each stream keeps its own status")

        registry.disconnect(nodeID: "n", stream: rogue)
        #expect(registry.all().map(\.envoyVersion) == ["envoy/1.40.0"], "a closed stream beside an open one is dropped")
        #expect(registry.status(of: "n")?.connected == true)
    }

    @Test("a node whose last stream closed is forgotten after the retention time")
    func retention() async throws {
        let registry = NodeRegistry(retention: .milliseconds(50))
        let stream = registry.connect(nodeID: "gone", fleet: "f", envoyVersion: "", flavour: "sotw")
        registry.disconnect(nodeID: "gone", stream: stream)
        #expect(registry.status(of: "gone")?.connected == false, "shown as disconnected at first")
        try await Task.sleep(for: .milliseconds(120))
        #expect(registry.all().isEmpty)
        #expect(registry.status(of: "gone") == nil)
    }

    @Test("an identical re-send of a refused ECDS config is ACKed by Envoy but stays refused: on the stream, after a reconnect, and in a new registry")
    func refusalOutlivesIdenticalResend() throws {
        let snapshot = try Fixtures.snapshot()
        let good = snapshot.resources(of: .extensionConfig).mapValues(\.version)
        let refused = try Fixtures.snapshot(ecdsPayload: "bad").resources(of: .extensionConfig)["ecds_b"]!.version
        var wanted = good
        wanted["ecds_b"] = refused

        let registry = NodeRegistry()
        let first = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "sotw")
        registry.record(.ack(.extensionConfig, version: "e1", resources: good), nodeID: "n", stream: first)
        let changes = registry.record(
            .nack(.extensionConfig, version: "e2", message: "Unable to create Wasm plugin", resources: ["ecds_b": refused]),
            nodeID: "n", stream: first)
        let rejection = try #require(registry.rejections(of: "n")["ecds_b"])
        #expect(rejection.serving == good["ecds_b"], "the version the node keeps running")
        #expect(changes == [.remember(node: "n", resource: "ecds_b", rejection)])

        // Envoy skips the identical config and ACKs it: nothing changes.
        #expect(registry.record(.ack(.extensionConfig, version: "e2", resources: ["ecds_b": refused]), nodeID: "n", stream: first).isEmpty)
        #expect(try #require(registry.status(of: "n")).rejectedFilters(desired: wanted).keys.sorted() == ["ecds_b"])

        // A network blip: a new stream, the same node, every resource re-sent and ACKed.
        registry.disconnect(nodeID: "n", stream: first)
        let second = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "sotw")
        #expect(try #require(registry.status(of: "n")).filters["ecds_b"]?.rejected == rejection, "known from the first ACK on")
        #expect(registry.record(.ack(.extensionConfig, version: "e2", resources: wanted), nodeID: "n", stream: second).isEmpty)
        let afterBlip = try #require(registry.status(of: "n"))
        #expect(afterBlip.rejectedFilters(desired: wanted).keys.sorted() == ["ecds_b"])
        #expect(afterBlip.ackedFilters == good, "what the node runs: ecds_b at its previous version")

        // A restarted qpilot starts from what was saved.
        let restarted = NodeRegistry(remembered: ["n": registry.rejections(of: "n")])
        let third = restarted.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "delta")
        #expect(restarted.record(.ack(.extensionConfig, version: "e2", resources: wanted), nodeID: "n", stream: third).isEmpty)
        #expect(try #require(restarted.status(of: "n")).rejectedFilters(desired: wanted).keys.sorted() == ["ecds_b"])

        // Another version of ecds_b, ACKed, ends the refusal and is forgotten.
        let fixed = try Fixtures.snapshot(ecdsPayload: "fixed").resources(of: .extensionConfig)["ecds_b"]!.version
        let cleared = restarted.record(.ack(.extensionConfig, version: "e3", resources: ["ecds_b": fixed]), nodeID: "n", stream: third)
        #expect(cleared == [.forget(node: "n", resource: "ecds_b")])
        #expect(try #require(restarted.status(of: "n")).filters["ecds_b"] == .init(acked: fixed, rejected: nil))
        #expect(restarted.rejections(of: "n").isEmpty)
    }

    @Test("remembered rejections are bounded: beyond the limit the oldest are forgotten")
    func rememberedIsBounded() throws {
        let registry = NodeRegistry(maxRemembered: 2)
        for node in ["a", "b", "c"] {
            let stream = registry.connect(nodeID: node, fleet: "f", envoyVersion: "", flavour: "sotw")
            let changes = registry.record(
                .nack(.extensionConfig, version: "e", message: "no", resources: ["m": "1"]), nodeID: node, stream: stream)
            if node == "c" { #expect(changes.last == .forget(node: "a", resource: "m")) }
        }
        #expect(registry.rejections(of: "a").isEmpty)
        #expect(registry.rejections(of: "b").count == 1 && registry.rejections(of: "c").count == 1)
    }

    @Test("what a reconnecting node says it holds shows what runs and never ends a refusal; a rollback and a re-apply stay truthful")
    func heldNeverClearsARefusal() throws {
        let registry = NodeRegistry()
        let first = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "sotw")
        registry.record(.ack(.extensionConfig, version: "e1", resources: ["g": "v1"]), nodeID: "n", stream: first)
        registry.record(.nack(.extensionConfig, version: "e2", message: "no", resources: ["g": "v2"]), nodeID: "n", stream: first)

        // The operator rolls back to v1; the node reconnects holding v1 (nothing is re-sent).
        registry.disconnect(nodeID: "n", stream: first)
        let second = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "sotw")
        #expect(registry.record(.holds(.extensionConfig, ["g": "v1"]), nodeID: "n", stream: second).isEmpty, "no change to the memory")
        let held = try #require(registry.status(of: "n"))
        #expect(held.ackedFilters == ["g": "v1"])
        #expect(held.rejectedFilters(desired: ["g": "v1"]).isEmpty, "in sync with the rollback")
        #expect(registry.rejections(of: "n")["g"]?.version == "v2", "the refusal of v2 is kept")

        // The revision with v2 again: Envoy skips it (its last received config is still v2) and ACKs.
        registry.record(.ack(.extensionConfig, version: "e2", resources: ["g": "v2"]), nodeID: "n", stream: second)
        let again = try #require(registry.status(of: "n"))
        #expect(again.rejectedFilters(desired: ["g": "v2"]).keys.sorted() == ["g"])
        #expect(again.ackedFilters == ["g": "v1"])

        // Holding the refused version itself (Delta may report it) counts as running the kept one.
        let third = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "delta")
        registry.record(.holds(.extensionConfig, ["g": "v2"]), nodeID: "n", stream: third)
        #expect(try #require(registry.status(of: "n")).ackedFilters == ["g": "v1"])
    }

    /// A log that keeps what it is given.
    final class Log: RejectionLog, @unchecked Sendable {
        private let lock = NSLock()
        private var changes: [RejectionChange] = []
        func enqueue(_ changes: [RejectionChange]) { lock.withLock { self.changes += changes } }
        var all: [RejectionChange] { lock.withLock { changes } }
    }

    @Test("every change to the memory reaches the log, in order, eviction included")
    func changesReachTheLog() throws {
        let log = Log()
        let registry = NodeRegistry(maxRemembered: 1, log: log)
        let a = registry.connect(nodeID: "a", fleet: "f", envoyVersion: "", flavour: "sotw")
        let b = registry.connect(nodeID: "b", fleet: "f", envoyVersion: "", flavour: "sotw")
        var returned: [RejectionChange] = []
        returned += registry.record(.nack(.extensionConfig, version: "e", message: "no", resources: ["m": "1"]), nodeID: "a", stream: a)
        returned += registry.record(.nack(.extensionConfig, version: "e", message: "no", resources: ["m": "1"]), nodeID: "b", stream: b)
        returned += registry.record(.ack(.extensionConfig, version: "e", resources: ["m": "2"]), nodeID: "b", stream: b)
        #expect(log.all == returned)
        #expect(log.all.map { change -> String in
            switch change {
            case .remember(let node, _, _): "remember \(node)"
            case .forget(let node, _): "forget \(node)"
            }
        } == ["remember a", "remember b", "forget a", "forget b"])
    }
}

extension NodeRegistryTests {
    @Test("a middleware whose module is being fetched shows as fetching, is not a NACK, and an ACK of it ends that")
    func fetching() throws {
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "", flavour: "sotw")
        let snapshot = try Fixtures.snapshot()
        let version = try #require(snapshot.resources(of: .extensionConfig)["ecds_a"]?.version)
        registry.record(.fetching(.extensionConfig, name: "ecds_a", version: version, attempt: 1), nodeID: "n", stream: stream)
        var status = try #require(registry.status(of: "n"))
        let since = try #require(status.filters["ecds_a"]?.fetching?.since)
        #expect(status.filters["ecds_a"]?.fetching?.attempts == 1)
        #expect(status.lastNack == nil && status.nacks.isEmpty, "a fetching NACK is not reported as one")
        #expect(registry.rejections(of: "n").isEmpty, "nor remembered")
        #expect(status.fetchingFilters(desired: snapshot.filterVersions).keys.sorted() == ["ecds_a"])
        #expect(status.syncState(against: snapshot) == .fetching)

        registry.record(.fetching(.extensionConfig, name: "ecds_a", version: version, attempt: 2), nodeID: "n", stream: stream)
        status = try #require(registry.status(of: "n"))
        #expect(status.filters["ecds_a"]?.fetching == .init(version: version, since: since, attempts: 2), "since the first")

        registry.record(.ack(.extensionConfig, version: "t", resources: ["ecds_a": version]), nodeID: "n", stream: stream)
        status = try #require(registry.status(of: "n"))
        #expect(status.filters["ecds_a"]?.fetching == nil)
        #expect(status.filters["ecds_a"]?.acked == version)
        #expect(status.syncState(against: snapshot) != .fetching)
    }
}
