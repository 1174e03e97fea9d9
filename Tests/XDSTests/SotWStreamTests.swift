import EnvoyAPI
import Foundation
import SwiftProtobuf
import QpilotTestSupport
import Testing
@testable import XDS

@Suite("SotW stream")
struct SotWStreamTests {
    @Test("a wildcard CDS request after a snapshot gets every cluster, with the CDS version and a nonce")
    func wildcardClusters() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = SotWStream()
        #expect(stream.update(snapshot).isEmpty, "nothing was requested yet")

        let (events, responses) = stream.receive(Fixtures.sotw(.cluster))
        #expect(events.isEmpty)
        let response = try #require(responses.only)
        #expect(response.type == .cluster)
        #expect(response.version == snapshot.version(of: .cluster))
        #expect(!response.nonce.isEmpty)
        #expect(response.resources.map(\.name) == ["alpha", "beta", "gamma", "svc"])

        let wire = response.message
        #expect(wire.typeURL == "type.googleapis.com/envoy.config.cluster.v3.Cluster")
        #expect(wire.versionInfo == response.version)
        #expect(wire.nonce == response.nonce)
        let decoded = try wire.resources.map { try Envoy_Config_Cluster_V3_Cluster(unpackingAny: $0) }
        #expect(decoded.map(\.name) == ["alpha", "beta", "gamma", "svc"])
    }

    @Test("a request before any snapshot gets nothing; the snapshot then answers it")
    func requestBeforeSnapshot() throws {
        var stream = SotWStream()
        let (events, responses) = stream.receive(Fixtures.sotw(.listener))
        #expect(events.isEmpty)
        #expect(responses.isEmpty)

        let snapshot = try Fixtures.snapshot()
        let response = try #require(stream.update(snapshot).only)
        #expect(response.type == .listener)
        #expect(response.version == snapshot.version(of: .listener))
        #expect(response.resources.map(\.name) == ["main", "side"])
    }

    @Test("an ACK is reported and sends nothing; the same snapshot again sends nothing")
    func ack() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = SotWStream()
        _ = stream.update(snapshot)
        let first = try #require(stream.receive(Fixtures.sotw(.cluster)).responses.only)

        let (events, responses) = stream.receive(Fixtures.sotw(.cluster, version: first.version, nonce: first.nonce))
        #expect(events == [.ack(.cluster, version: snapshot.version(of: .cluster), resources: first.carried)])
        #expect(responses.isEmpty)
        #expect(stream.update(snapshot).isEmpty)
        // A snapshot rebuilt from equal input has equal versions, so it is not news either.
        #expect(stream.update(try Fixtures.snapshot()).isEmpty)
    }

    @Test("a NACK is reported with Envoy's message and the same version is never resent")
    func nackParks() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = SotWStream()
        _ = stream.update(snapshot)
        let first = try #require(stream.receive(Fixtures.sotw(.cluster)).responses.only)

        let message = "cluster 'alpha': bad connect_timeout"
        let (events, responses) = stream.receive(
            Fixtures.sotw(.cluster, version: "", nonce: first.nonce, error: message))
        #expect(events == [.nack(.cluster, version: first.version, message: message, resources: first.carried)])
        #expect(responses.isEmpty, "no resend right after the NACK")
        #expect(stream.update(snapshot).isEmpty, "no resend when the same snapshot comes again")
        #expect(stream.update(try Fixtures.snapshot()).isEmpty, "nor when an equal one is rebuilt")

        let changed = try Fixtures.snapshot(clusterTimeout: 7)
        let next = try #require(stream.update(changed).only)
        #expect(next.type == .cluster)
        #expect(next.version == changed.version(of: .cluster))
        #expect(next.version != first.version)
        #expect(next.nonce != first.nonce)
    }

    @Test("after a NACK, a request for names Envoy was never sent is still answered")
    func parkedTypeAnswersNewNames() throws {
        var stream = SotWStream()
        _ = stream.update(try Fixtures.snapshot())
        let first = try #require(stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a"])).responses.only)
        _ = stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a"], nonce: first.nonce, error: "bad module"))

        // A new listener names a second filter. Envoy sends the latest nonce again, without
        // error_detail (it clears that once sent). ecds_b was never sent, so it cannot have been
        // rejected; holding it back leaves the listener warming until the snapshot next changes.
        let (events, responses) = stream.receive(
            Fixtures.sotw(.extensionConfig, names: ["ecds_a", "ecds_b"], nonce: first.nonce))
        let response = try #require(responses.only)
        #expect(response.resources.map(\.name).contains("ecds_b"))
        // The repeated nonce is a subscription change, not an ACK: the NACK still stands.
        #expect(events.isEmpty, "\(events)")
    }

    @Test("a NACK of one type does not park the others")
    func nackIsPerType() throws {
        var stream = SotWStream()
        _ = stream.update(try Fixtures.snapshot())
        let clusters = try #require(stream.receive(Fixtures.sotw(.cluster)).responses.only)
        let listeners = try #require(stream.receive(Fixtures.sotw(.listener)).responses.only)
        _ = stream.receive(Fixtures.sotw(.cluster, nonce: clusters.nonce, error: "no"))
        _ = stream.receive(Fixtures.sotw(.listener, version: listeners.version, nonce: listeners.nonce))

        // A listener-only change goes out although CDS is parked.
        let changed = try Fixtures.snapshot(sideListener: "side2")
        let response = try #require(stream.update(changed).only)
        #expect(response.type == .listener)
        #expect(response.resources.map(\.name) == ["main", "side2"])
    }

    @Test("a reply with an old nonce is stale: reported, ignored, and the newest nonce still counts")
    func staleNonce() throws {
        var stream = SotWStream()
        _ = stream.update(try Fixtures.snapshot())
        let first = try #require(stream.receive(Fixtures.sotw(.cluster)).responses.only)
        _ = stream.receive(Fixtures.sotw(.cluster, version: first.version, nonce: first.nonce))
        let changed = try Fixtures.snapshot(extraCluster: "delta")
        let second = try #require(stream.update(changed).only)

        let (events, responses) = stream.receive(Fixtures.sotw(.cluster, version: first.version, nonce: first.nonce))
        #expect(events == [.staleNonce(.cluster, nonce: first.nonce)])
        #expect(responses.isEmpty)

        let (ackEvents, ackResponses) = stream.receive(
            Fixtures.sotw(.cluster, version: second.version, nonce: second.nonce))
        #expect(ackEvents == [.ack(.cluster, version: changed.version(of: .cluster), resources: second.carried)])
        #expect(ackResponses.isEmpty)
    }

    @Test(
        "RDS and ECDS send only the named resources; a missing name is simply absent",
        arguments: [
            (ResourceType.route, ["side_route"], ["side_route"]),
            (ResourceType.route, ["main_route", "nope", "side_route"], ["main_route", "side_route"]),
            (ResourceType.extensionConfig, ["ecds_b"], ["ecds_b"]),
            (ResourceType.extensionConfig, ["missing"], []),
        ])
    func namedResources(type: ResourceType, names: [String], expected: [String]) throws {
        let snapshot = try Fixtures.snapshot()
        var stream = SotWStream()
        _ = stream.update(snapshot)
        let response = try #require(stream.receive(Fixtures.sotw(type, names: names)).responses.only)
        #expect(response.type == type)
        // ECDS responses are labelled with what the client holds once it applies them.
        #expect(response.version == (type.sendsOneAtATime ? Snapshot.typeVersion(response.carried) : snapshot.version(of: type)))
        #expect(response.resources.map(\.name) == expected)
    }

    @Test("RDS and ECDS with no names are not wildcard")
    func noNamesIsNotWildcard() throws {
        var stream = SotWStream()
        _ = stream.update(try Fixtures.snapshot())
        let response = try #require(stream.receive(Fixtures.sotw(.route)).responses.only)
        #expect(response.resources.isEmpty)
        let explicitWildcard = try #require(stream.receive(Fixtures.sotw(.extensionConfig, names: ["*"])).responses.only)
        #expect(explicitWildcard.resources.map(\.name) == ["ecds_a"], "ECDS goes one resource at a time")
        let next = try #require(
            stream.receive(Fixtures.sotw(.extensionConfig, names: ["*"], version: explicitWildcard.version, nonce: explicitWildcard.nonce))
                .responses.only)
        #expect(next.resources.map(\.name) == ["ecds_b"])
    }

    @Test("an ACK that changes the subscribed names gets the new names at the same version")
    func subscriptionChange() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = SotWStream()
        _ = stream.update(snapshot)
        let first = try #require(stream.receive(Fixtures.sotw(.route, names: ["main_route"])).responses.only)
        let (events, responses) = stream.receive(
            Fixtures.sotw(.route, names: ["main_route", "side_route"], version: first.version, nonce: first.nonce))
        #expect(events == [.ack(.route, version: first.version, resources: first.carried)])
        let second = try #require(responses.only)
        #expect(second.version == first.version)
        #expect(second.resources.map(\.name) == ["main_route", "side_route"])
    }

    @Test("a reconnecting Envoy that holds the current version gets no response and counts as an ACK")
    func reconnectAtCurrentVersion() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = SotWStream()
        _ = stream.update(snapshot)

        let (events, responses) = stream.receive(Fixtures.sotw(.cluster, version: snapshot.version(of: .cluster)))
        #expect(responses.isEmpty)
        #expect(
            events == [
                .ack(.cluster, version: snapshot.version(of: .cluster), resources: [:]),
                .holds(.cluster, snapshot.resources(of: .cluster).mapValues(\.version)),
            ])

        // The stream is live: the next change goes out.
        let changed = try Fixtures.snapshot(extraCluster: "delta")
        let next = try #require(stream.update(changed).only)
        #expect(next.resources.map(\.name).contains("delta"))
    }

    @Test("a reconnecting Envoy that holds an older version gets the current one")
    func reconnectAtOldVersion() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = SotWStream()
        _ = stream.update(snapshot)
        let (events, responses) = stream.receive(Fixtures.sotw(.cluster, version: "0123456789abcdef"))
        #expect(events.isEmpty)
        let response = try #require(responses.only)
        #expect(response.version == snapshot.version(of: .cluster))
    }

    @Test("a reconnect before the snapshot arrives sends nothing once it matches")
    func reconnectBeforeSnapshot() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = SotWStream()
        let (events, _) = stream.receive(Fixtures.sotw(.cluster, version: snapshot.version(of: .cluster)))
        #expect(events.isEmpty, "nothing is known before the snapshot")
        #expect(stream.update(snapshot).isEmpty)
        #expect(
            stream.drainEvents() == [
                .ack(.cluster, version: snapshot.version(of: .cluster), resources: [:]),
                .holds(.cluster, snapshot.resources(of: .cluster).mapValues(\.version)),
            ])
        #expect(stream.drainEvents().isEmpty, "drained once")

        let changed = try Fixtures.snapshot(extraCluster: "delta")
        let next = try #require(stream.update(changed).only, "the stream is live after the reconnect")
        #expect(next.version == changed.version(of: .cluster))
    }

    @Test("a new snapshot while a response is un-ACKed is held until the ACK, then sent")
    func heldUntilAck() throws {
        var stream = SotWStream()
        _ = stream.update(try Fixtures.snapshot())
        let first = try #require(stream.receive(Fixtures.sotw(.cluster)).responses.only)

        let changed = try Fixtures.snapshot(extraCluster: "delta")
        #expect(stream.update(changed).isEmpty, "one response per type in flight")

        let (events, responses) = stream.receive(Fixtures.sotw(.cluster, version: first.version, nonce: first.nonce))
        #expect(events == [.ack(.cluster, version: first.version, resources: first.carried)])
        let held = try #require(responses.only)
        #expect(held.version == changed.version(of: .cluster))
        #expect(held.resources.map(\.name) == ["alpha", "beta", "delta", "gamma", "svc"])
        #expect(held.nonce != first.nonce)
    }

    @Test("update() answers every type in make-before-break order, whatever the request order")
    func makeBeforeBreak() throws {
        var stream = SotWStream()
        _ = stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a", "ecds_b"]))
        _ = stream.receive(Fixtures.sotw(.route, names: ["main_route", "side_route"]))
        _ = stream.receive(Fixtures.sotw(.listener))
        _ = stream.receive(Fixtures.sotw(.endpoint, names: ["svc"]))
        _ = stream.receive(Fixtures.sotw(.cluster))

        let responses = stream.update(try Fixtures.snapshot())
        #expect(responses.map(\.type) == [.cluster, .endpoint, .extensionConfig, .listener, .route])
        #expect(Set(responses.map(\.nonce)).count == 5, "every response has its own nonce")
        #expect(responses.first { $0.type == .extensionConfig }?.resources.map(\.name) == ["ecds_a"], "ECDS one at a time")
    }

    @Test("a type that drops resources goes after the types that change, so references go before what they name")
    func breakAfterMake() throws {
        var stream = SotWStream()
        _ = stream.receive(Fixtures.sotw(.cluster))
        _ = stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a"]))
        for response in stream.update(try Fixtures.snapshot()) {
            _ = stream.receive(Fixtures.sotw(response.type, names: response.type == .cluster ? [] : ["ecds_a"],
                                             version: response.version, nonce: response.nonce))
        }
        // gamma goes away (a drop) while ecds_a changes (no drop).
        let responses = stream.update(try Fixtures.snapshot(clusters: ["alpha", "beta"], ecdsPayload: "v2"))
        #expect(responses.map(\.type) == [.extensionConfig, .cluster])
        #expect(ResourceType.breakOrder { _ in false } == [.cluster, .endpoint, .secret, .extensionConfig, .listener, .route])
        #expect(ResourceType.breakOrder { $0 == .extensionConfig || $0 == .listener } == [.cluster, .endpoint, .secret, .route, .listener, .extensionConfig])
    }

    @Test("only the types whose version changed are resent")
    func onlyChangedTypes() throws {
        var stream = SotWStream()
        _ = stream.receive(Fixtures.sotw(.cluster))
        _ = stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a"]))
        for response in stream.update(try Fixtures.snapshot()) {
            _ = stream.receive(Fixtures.sotw(response.type, names: response.type == .cluster ? [] : ["ecds_a"],
                                             version: response.version, nonce: response.nonce))
        }
        let changed = try Fixtures.snapshot(ecdsPayload: "v2")
        let responses = stream.update(changed)
        #expect(responses.map(\.type) == [.extensionConfig])
    }

    @Test("an unknown type URL is reported and answered with nothing")
    func unknownType() {
        var stream = SotWStream()
        let url = "type.googleapis.com/envoy.service.runtime.v3.Runtime"
        let (events, responses) = stream.receive(Fixtures.sotw(.cluster, typeURL: url))
        #expect(events == [.unknownType(url)])
        #expect(responses.isEmpty)
    }

    @Test("ECDS goes one resource per response: a NACK names one middleware and holds back only that one")
    func ecdsOneAtATime() throws {
        let snapshot = try Fixtures.snapshot()
        let ecds = snapshot.resources(of: .extensionConfig)
        var stream = SotWStream()
        _ = stream.update(snapshot)
        let first = try #require(stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a", "ecds_b"])).responses.only)
        #expect(first.resources.map(\.name) == ["ecds_a"])
        #expect(first.version == Snapshot.typeVersion(["ecds_a": ecds["ecds_a"]!.version]))

        // Envoy refuses ecds_a: the NACK is about ecds_a alone, and ecds_b still goes out.
        let (nackEvents, afterNack) = stream.receive(
            Fixtures.sotw(.extensionConfig, names: ["ecds_a", "ecds_b"], nonce: first.nonce, error: "Unable to create Wasm plugin"))
        #expect(nackEvents == [.nack(.extensionConfig, version: first.version, message: "Unable to create Wasm plugin", resources: first.carried)])
        let second = try #require(afterNack.only)
        #expect(second.resources.map(\.name) == ["ecds_b"])
        #expect(second.version == Snapshot.typeVersion(["ecds_b": ecds["ecds_b"]!.version]), "the client holds only ecds_b from us")

        let (ackEvents, afterAck) = stream.receive(
            Fixtures.sotw(.extensionConfig, names: ["ecds_a", "ecds_b"], version: second.version, nonce: second.nonce))
        #expect(ackEvents == [.ack(.extensionConfig, version: second.version, resources: second.carried)])
        #expect(afterAck.isEmpty, "the refused ecds_a is not resent")
        #expect(stream.update(snapshot).isEmpty)

        // A new version of both: ecds_a goes again (its version changed), then ecds_b.
        let changed = try Fixtures.snapshot(ecdsPayload: "v2")
        let third = try #require(stream.update(changed).only)
        #expect(third.resources.map(\.name) == ["ecds_a"])
        let fourth = try #require(
            stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a", "ecds_b"], version: third.version, nonce: third.nonce))
                .responses.only)
        #expect(fourth.resources.map(\.name) == ["ecds_b"])
        #expect(fourth.version == changed.version(of: .extensionConfig), "holding every resource is the snapshot's version")
    }

    @Test("a reconnect at the snapshot's ECDS version sends nothing and counts each resource as ACKed; at another version each is resent")
    func ecdsReconnect() throws {
        let snapshot = try Fixtures.snapshot()
        let all = snapshot.resources(of: .extensionConfig).mapValues(\.version)
        var current = SotWStream()
        _ = current.update(snapshot)
        let (events, responses) = current.receive(
            Fixtures.sotw(.extensionConfig, names: ["ecds_a", "ecds_b"], version: snapshot.version(of: .extensionConfig)))
        #expect(responses.isEmpty)
        #expect(
            events == [.ack(.extensionConfig, version: snapshot.version(of: .extensionConfig), resources: [:]), .holds(.extensionConfig, all)],
            "what the client holds was not re-sent: reported as held, not as carried")

        // Envoy refused ecds_b on an earlier stream, so it reports the version of ecds_a alone.
        var partial = SotWStream()
        _ = partial.update(snapshot)
        let held = Snapshot.typeVersion(["ecds_a": all["ecds_a"]!])
        let first = try #require(
            partial.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a", "ecds_b"], version: held)).responses.only)
        #expect(first.resources.map(\.name) == ["ecds_a"], "qpilot cannot tell what Envoy holds from a version: it resends")
        let second = try #require(
            partial.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a", "ecds_b"], version: first.version, nonce: first.nonce))
                .responses.only)
        #expect(second.resources.map(\.name) == ["ecds_b"])
    }

    @Test("a refused ECDS resource that Envoy stops asking for, then asks for again, is sent again")
    func refusedResourceResubscribed() throws {
        var stream = SotWStream()
        _ = stream.update(try Fixtures.snapshot())
        let first = try #require(stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a"])).responses.only)
        #expect(stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a"], nonce: first.nonce, error: "bad")).responses.isEmpty)
        // The listener that named ecds_a goes away, then a new one names it again.
        #expect(stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_b"], nonce: first.nonce)).responses.only?.resources.map(\.name) == ["ecds_b"])
        let second = try #require(stream.types[.extensionConfig]?.sentNonce)
        let again = try #require(
            stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a", "ecds_b"], version: "x", nonce: second)).responses.only)
        #expect(again.resources.map(\.name) == ["ecds_a"])
    }
}

extension SotWStreamTests {
    @Test("resend() sends a refused ECDS resource again at the same version, and nothing that was not refused")
    func resendAfterFetchingNack() throws {
        let snapshot = try Fixtures.snapshot()
        var stream = SotWStream()
        _ = stream.update(snapshot)
        let first = try #require(stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a"])).responses.only)
        #expect(stream.resend(.extensionConfig, name: "ecds_a").isEmpty, "not refused: nothing to resend")
        let (_, afterNack) = stream.receive(
            Fixtures.sotw(.extensionConfig, names: ["ecds_a"], nonce: first.nonce, error: "Unable to create Wasm plugin ecds_a"))
        #expect(afterNack.isEmpty, "parked")
        let again = try #require(stream.resend(.extensionConfig, name: "ecds_a").only)
        #expect(again.resources == first.resources)
        #expect(again.version == first.version)
        #expect(again.nonce != first.nonce)
        let (events, _) = stream.receive(Fixtures.sotw(.extensionConfig, names: ["ecds_a"], version: again.version, nonce: again.nonce))
        #expect(events == [.ack(.extensionConfig, version: again.version, resources: again.carried)])
        #expect(stream.resend(.extensionConfig, name: "ecds_a").isEmpty, "held now")
    }
}
