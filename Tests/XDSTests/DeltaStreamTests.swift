import EnvoyAPI
import Foundation
import SwiftProtobuf
import QpilotTestSupport
import Testing
import XDS

@Suite("Delta stream")
struct DeltaStreamTests {
    /// Sends `request` and returns its single response, failing the test when there is not exactly one.
    private func single(
        _ stream: inout DeltaStream, _ request: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> DeltaStream.Response {
        let (_, responses) = stream.receive(request)
        return try #require(responses.only, sourceLocation: sourceLocation)
    }

    private func ack(_ stream: inout DeltaStream, _ response: DeltaStream.Response) -> [ProtocolEvent] {
        let (events, responses) = stream.receive(Fixtures.delta(response.type, nonce: response.nonce))
        #expect(responses.isEmpty)
        return events
    }

    @Test("a first CDS request that names nothing is wildcard and gets every cluster")
    func wildcardClusters() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = DeltaStream()
        _ = stream.update(snapshot)
        let response = try single(&stream, Fixtures.delta(.cluster))
        #expect(response.type == .cluster)
        #expect(response.systemVersion == snapshot.version(of: .cluster))
        #expect(!response.nonce.isEmpty)
        #expect(response.removed.isEmpty)
        #expect(response.resources.map(\.name) == ["alpha", "beta", "gamma", "svc"])

        let wire = response.message
        #expect(wire.typeURL == ResourceType.cluster.typeURL)
        #expect(wire.systemVersionInfo == snapshot.version(of: .cluster))
        #expect(wire.nonce == response.nonce)
        for (resource, expected) in zip(wire.resources, response.resources) {
            #expect(resource.name == expected.name)
            #expect(resource.version == snapshot.resources(of: .cluster)[expected.name]?.version)
            let cluster = try Envoy_Config_Cluster_V3_Cluster(unpackingAny: resource.resource)
            #expect(cluster.name == expected.name)
        }
    }

    @Test("a first RDS request that names nothing is not wildcard")
    func routesAreNotWildcard() throws {
        var stream = DeltaStream()
        _ = stream.update(try Fixtures.snapshot())
        let response = try single(&stream, Fixtures.delta(.route))
        #expect(response.resources.isEmpty)
        #expect(response.removed.isEmpty)
    }

    @Test("resources the client already holds (initial_resource_versions) are not resent")
    func initialVersions() throws {
        let snapshot = try Fixtures.snapshot()
        let clusters = snapshot.resources(of: .cluster)
        var stream = DeltaStream()
        _ = stream.update(snapshot)
        let response = try single(
            &stream,
            Fixtures.delta(
                .cluster,
                initial: [
                    "alpha": try #require(clusters["alpha"]).version,
                    "beta": try #require(clusters["beta"]).version,
                    "gamma": "0000000000000000",
                    "gone": "1111111111111111",
                ]))
        #expect(response.resources.map(\.name) == ["gamma", "svc"], "only what differs from what Envoy holds")
        #expect(response.removed == ["gone"], "what Envoy holds but the snapshot lacks is removed")
    }

    @Test("a reconnect that holds everything is reported as holding it, still gets one (empty) first response, then nothing")
    func reconnectHoldingEverything() throws {
        let snapshot = try Fixtures.snapshot()
        let initial = snapshot.resources(of: .cluster).mapValues(\.version)
        var stream = DeltaStream()
        _ = stream.update(snapshot)
        let (events, responses) = stream.receive(Fixtures.delta(.cluster, initial: initial))
        #expect(events == [.holds(.cluster, initial)], "what the client holds, reported as held")
        let response = try #require(responses.only)
        #expect(response.resources.isEmpty)
        #expect(response.removed.isEmpty)
        #expect(ack(&stream, response) == [.ack(.cluster, version: snapshot.version(of: .cluster), resources: [:])])
        #expect(stream.update(snapshot).isEmpty)
    }

    @Test("a subscribed name that does not exist is reported removed once, and not again")
    func missingNameReportedOnce() throws {
        var stream = DeltaStream()
        _ = stream.update(try Fixtures.snapshot())
        let first = try single(&stream, Fixtures.delta(.route, subscribe: ["main_route", "nope"]))
        #expect(first.resources.map(\.name) == ["main_route"])
        #expect(first.removed == ["nope"])
        _ = ack(&stream, first)

        // main_route changes (it points at the first cluster); "nope" is still missing.
        let changed = try Fixtures.snapshot(clusters: ["zeta"])
        let next = try #require(stream.update(changed).first { $0.type == .route })
        #expect(next.resources.map(\.name) == ["main_route"])
        #expect(next.removed.isEmpty)
    }

    @Test("a name subscribed later arrives in its own response")
    func laterSubscribe() throws {
        var stream = DeltaStream()
        _ = stream.update(try Fixtures.snapshot())
        let first = try single(&stream, Fixtures.delta(.extensionConfig, subscribe: ["ecds_a"]))
        #expect(first.resources.map(\.name) == ["ecds_a"])
        let second = try single(&stream, Fixtures.delta(.extensionConfig, subscribe: ["ecds_b"], nonce: first.nonce))
        #expect(second.resources.map(\.name) == ["ecds_b"], "ecds_a is held already and not resent")
    }

    @Test("an unsubscribed name is no longer sent, and a resubscribe sends it afresh")
    func unsubscribe() throws {
        var stream = DeltaStream()
        _ = stream.update(try Fixtures.snapshot())
        let first = try single(&stream, Fixtures.delta(.route, subscribe: ["main_route", "side_route"]))
        #expect(first.resources.map(\.name) == ["main_route", "side_route"])

        let (events, responses) = stream.receive(
            Fixtures.delta(.route, unsubscribe: ["side_route"], nonce: first.nonce))
        #expect(events == [.ack(.route, version: first.systemVersion, resources: first.carried)])
        #expect(responses.isEmpty, "unsubscribing needs no response")

        let changed = try Fixtures.snapshot(clusters: ["zeta"])
        let next = try #require(stream.update(changed).first { $0.type == .route })
        #expect(next.resources.map(\.name) == ["main_route"])
        #expect(next.removed.isEmpty)
        _ = ack(&stream, next)

        let again = try single(&stream, Fixtures.delta(.route, subscribe: ["side_route"]))
        #expect(again.resources.map(\.name) == ["side_route"])
    }

    @Test("several responses may be in flight; each nonce is ACKed or NACKed with its own version")
    func ackAndNackByNonce() throws {
        let v1 = try Fixtures.snapshot()
        let v2 = try Fixtures.snapshot(extraCluster: "delta")
        var stream = DeltaStream()
        _ = stream.update(v1)
        let first = try single(&stream, Fixtures.delta(.cluster))
        let second = try #require(stream.update(v2).only, "Delta does not wait for the ACK")
        #expect(second.resources.map(\.name) == ["delta"])
        #expect(second.nonce != first.nonce)

        #expect(ack(&stream, first) == [.ack(.cluster, version: v1.version(of: .cluster), resources: first.carried)])
        let (events, responses) = stream.receive(Fixtures.delta(.cluster, nonce: second.nonce, error: "bad delta"))
        #expect(events == [.nack(.cluster, version: v2.version(of: .cluster), message: "bad delta", resources: second.carried)])
        #expect(responses.isEmpty)
    }

    @Test("ECDS goes one resource per response; a NACK names one and parks it until its bytes change")
    func nackParks() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = DeltaStream()
        _ = stream.update(snapshot)
        let (_, sent) = stream.receive(Fixtures.delta(.extensionConfig, subscribe: ["ecds_a", "ecds_b"]))
        #expect(sent.map { $0.resources.map(\.name) } == [["ecds_a"], ["ecds_b"]])
        let (events, responses) = stream.receive(
            Fixtures.delta(.extensionConfig, nonce: sent[1].nonce, error: "Unable to create Wasm HTTP filter"))
        #expect(
            events == [
                .nack(.extensionConfig, version: sent[1].systemVersion, message: "Unable to create Wasm HTTP filter", resources: sent[1].carried)
            ])
        #expect(responses.isEmpty)
        #expect(ack(&stream, sent[0]) == [.ack(.extensionConfig, version: sent[0].systemVersion, resources: sent[0].carried)])
        #expect(stream.update(snapshot).isEmpty)
        #expect(stream.update(try Fixtures.snapshot()).isEmpty)

        let fixed = try Fixtures.snapshot(ecdsPayload: "v2")
        let next = stream.update(fixed)
        #expect(next.allSatisfy { $0.type == .extensionConfig && $0.systemVersion == fixed.version(of: .extensionConfig) })
        #expect(next.map { $0.resources.map(\.name) } == [["ecds_a"], ["ecds_b"]])
    }

    @Test("after a NACK, a newly subscribed name is still sent")
    func parkedTypeAnswersNewSubscriptions() throws {
        var stream = DeltaStream()
        _ = stream.update(try Fixtures.snapshot())
        let first = try single(&stream, Fixtures.delta(.extensionConfig, subscribe: ["ecds_a"]))
        _ = stream.receive(Fixtures.delta(.extensionConfig, nonce: first.nonce, error: "bad module"))

        // ecds_b was never sent, so it cannot have been rejected.
        let (_, responses) = stream.receive(Fixtures.delta(.extensionConfig, subscribe: ["ecds_b"]))
        let response = try #require(responses.only)
        #expect(response.resources.map(\.name) == ["ecds_b"])
    }

    @Test("a resource deleted from the snapshot is sent in removed_resources")
    func deletion() throws {
        var stream = DeltaStream()
        _ = stream.update(try Fixtures.snapshot())
        let first = try single(&stream, Fixtures.delta(.cluster))
        _ = ack(&stream, first)

        let smaller = try Fixtures.snapshot(clusters: ["alpha", "beta"])
        let response = try #require(stream.update(smaller).only)
        #expect(response.type == .cluster)
        #expect(response.resources.isEmpty)
        #expect(response.removed == ["gamma"])
        _ = ack(&stream, response)
        #expect(stream.update(smaller).isEmpty, "removed once")
    }

    @Test("a reply with an unknown nonce is stale")
    func staleNonce() throws {
        var stream = DeltaStream()
        _ = stream.update(try Fixtures.snapshot())
        let first = try single(&stream, Fixtures.delta(.cluster))
        _ = ack(&stream, first)
        let (events, responses) = stream.receive(Fixtures.delta(.cluster, nonce: first.nonce))
        #expect(events == [.staleNonce(.cluster, nonce: first.nonce)], "a nonce is answered once")
        #expect(responses.isEmpty)
    }

    @Test("update() answers in make-before-break order")
    func makeBeforeBreak() throws {
        var stream = DeltaStream()
        _ = stream.receive(Fixtures.delta(.extensionConfig, subscribe: ["ecds_a"]))
        _ = stream.receive(Fixtures.delta(.route, subscribe: ["main_route"]))
        _ = stream.receive(Fixtures.delta(.listener))
        _ = stream.receive(Fixtures.delta(.endpoint, subscribe: ["svc"]))
        _ = stream.receive(Fixtures.delta(.cluster))
        let responses = stream.update(try Fixtures.snapshot())
        #expect(responses.map(\.type) == [.cluster, .endpoint, .extensionConfig, .listener, .route])
    }

    @Test("an unknown type URL is reported")
    func unknownType() {
        var stream = DeltaStream()
        let url = "type.googleapis.com/envoy.service.runtime.v3.Runtime"
        let (events, responses) = stream.receive(Fixtures.delta(.cluster, typeURL: url))
        #expect(events == [.unknownType(url)])
        #expect(responses.isEmpty)
    }
}

extension DeltaStreamTests {
    @Test("resend() sends a resource again at the same version after a NACK")
    func resendAfterFetchingNack() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = DeltaStream()
        _ = stream.update(snapshot)
        let first = try #require(stream.receive(Fixtures.delta(.extensionConfig, subscribe: ["ecds_a"])).responses.only)
        let (events, afterNack) = stream.receive(Fixtures.delta(.extensionConfig, nonce: first.nonce, error: "Unable to create Wasm plugin"))
        #expect(events.count == 1)
        #expect(afterNack.isEmpty, "a refused resource is not resent by itself")
        let again = try #require(stream.resend(.extensionConfig, name: "ecds_a").only)
        #expect(again.resources == first.resources)
        #expect(stream.resend(.extensionConfig, name: "ecds_unknown").isEmpty)
    }
}
