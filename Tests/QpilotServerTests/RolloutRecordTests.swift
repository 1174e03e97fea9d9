import Foundation
import QpilotAPI
import QpilotTestSupport
@testable import QpilotServer
import Testing
import XDS

@Suite("Rollout records, middleware by middleware")
struct RolloutRecordTests {
    static let m1 = "qpilot.middleware.m1"
    static let m2 = "qpilot.middleware.m2"

    /// A record for every fleet (`*`) whose ECDS resources have these versions.
    static func record(_ filters: [String: String]) -> RolloutRecord {
        RolloutRecord(
            publishedAt: Date(), versions: [.everyOther: [.listeners: "l1", .middleware: Snapshot.typeVersion(filters)]],
            changedFleets: [.everyOther], filters: [.everyOther: filters])
    }

    @Test("a node that refused m2 fails the rollout that wants m2's refused version, naming m2; m1's change is not held back; a fix completes it")
    func refusedMiddlewareIsNamed() throws {
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "n", fleet: "edge", envoyVersion: "", flavour: "sotw")
        registry.record(.ack(.listener, version: "l1", resources: [:]), nodeID: "n", stream: stream)
        registry.record(.ack(.extensionConfig, version: "e", resources: [Self.m1: "a1", Self.m2: "b1"]), nodeID: "n", stream: stream)

        // One apply changes both; Envoy takes m1 and refuses m2.
        registry.record(.ack(.extensionConfig, version: "e", resources: [Self.m1: "a2"]), nodeID: "n", stream: stream)
        registry.record(
            .nack(.extensionConfig, version: "e", message: "Unable to create Wasm plugin m2", resources: [Self.m2: "b2"]),
            nodeID: "n", stream: stream)
        let both = Self.record([Self.m1: "a2", Self.m2: "b2"])
        let view = both.view(revision: 2, nodes: registry.all()) { _ in [:] }
        #expect(view.state == .failed)
        let node = try #require(view.nodes.only)
        #expect(node.state == .nacked)
        #expect(node.middleware == "m2")
        #expect(node.message == "Unable to create Wasm plugin m2")

        // A later push of m1 alone: the identical re-send of m2 is ACKed, yet the node still
        // refuses m2's config, so that revision is not complete either.
        registry.record(.ack(.extensionConfig, version: "e", resources: [Self.m1: "a3", Self.m2: "b2"]), nodeID: "n", stream: stream)
        let m1Only = Self.record([Self.m1: "a3", Self.m2: "b2"]).view(revision: 3, nodes: registry.all()) { _ in [:] }
        #expect(m1Only.state == .failed)
        #expect(m1Only.nodes.only?.middleware == "m2")
        let status = try #require(registry.status(of: "n"))
        #expect(status.ackedFilters == [Self.m1: "a3", Self.m2: "b1"], "m2 runs its first version")

        // A fixed m2.
        registry.record(.ack(.extensionConfig, version: "e", resources: [Self.m2: "b3"]), nodeID: "n", stream: stream)
        let fixed = Self.record([Self.m1: "a3", Self.m2: "b3"]).view(revision: 4, nodes: registry.all()) { _ in [:] }
        #expect(fixed.state == .complete)
        #expect(fixed.nodes.only?.state == .acked)
    }

    @Test("a record written before middleware were tracked one by one still compares type versions")
    func olderRecord() throws {
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "n", fleet: "edge", envoyVersion: "", flavour: "sotw")
        registry.record(.ack(.listener, version: "l1", resources: [:]), nodeID: "n", stream: stream)
        registry.record(.ack(.extensionConfig, version: "e1", resources: [Self.m1: "a1"]), nodeID: "n", stream: stream)
        let json = #"{"publishedAt":0,"versions":{"*":{"LDS":"l1","ECDS":"e1"}},"changedFleets":["*"]}"#
        let old = try JSONDecoder().decode(RolloutRecord.self, from: Data(json.utf8))
        #expect(old.filters == nil)
        #expect(old.view(revision: 1, nodes: registry.all()) { _ in [:] }.state == .complete)
    }
}

extension RolloutRecordTests {
    @Test("a node fetching a module of the revision is `fetching`, naming the middleware; the rollout is in progress until it ACKs")
    func fetchingNode() throws {
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "n", fleet: "edge", envoyVersion: "", flavour: "sotw")
        registry.record(.ack(.listener, version: "l1", resources: [:]), nodeID: "n", stream: stream)
        registry.record(.ack(.extensionConfig, version: "e", resources: [Self.m1: "a1"]), nodeID: "n", stream: stream)
        registry.record(.fetching(.extensionConfig, name: Self.m1, version: "a2", attempt: 1), nodeID: "n", stream: stream)

        let record = Self.record([Self.m1: "a2"])
        let view = record.view(revision: 2, nodes: registry.all()) { record.expected(for: $0) }
        #expect(view.state == .inProgress)
        #expect((view.acked, view.nacked, view.pending, view.fetching) == (0, 0, 0, 1))
        #expect(view.nodes.only?.state == .fetching)
        #expect(view.nodes.only?.middleware == "m1")
        #expect(view.nodes.only?.message == nil)

        // Superseded while fetching: a later revision wants something else.
        #expect(record.view(revision: 2, nodes: registry.all()) { _ in [:] }.state == .superseded)

        registry.record(.ack(.extensionConfig, version: "e", resources: [Self.m1: "a2"]), nodeID: "n", stream: stream)
        let done = record.view(revision: 2, nodes: registry.all()) { _ in [:] }
        #expect(done.state == .complete)
        #expect(done.nodes.only?.state == .acked)
    }
}
