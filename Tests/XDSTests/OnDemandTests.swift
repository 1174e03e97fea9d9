import EnvoyAPI
import Foundation
import QpilotAPI
import QpilotTestSupport
import Testing

@testable import XDS

/// Secrets (SDS) made on request: the cache keeps them per fleet on top of the fleet's config,
/// and the streams answer each node with the names it asked for.
@Suite("On-demand resources")
struct OnDemandTests {
    static func secret(_ name: String, _ payload: String = "v1") -> Resource {
        var message = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
        message.name = name
        var chain = Envoy_Config_Core_V3_DataSource()
        chain.inlineString = payload
        var certificate = Envoy_Extensions_TransportSockets_Tls_V3_TlsCertificate()
        certificate.certificateChain = chain
        message.tlsCertificate = certificate
        return Fixtures.resource(.secret, name, message)
    }

    static func base(intercepting patterns: [String]) throws -> Snapshot {
        let plain = try Fixtures.snapshot()
        return try Snapshot(
            plain.resources.mapValues { Array($0.values) }, secretNames: patterns.map { try HostPattern(parsing: $0) })
    }

    @Test("a host pattern matches the name itself or, for '*.', any name under the domain")
    func hostPatterns() throws {
        let exact = try HostPattern(parsing: "API.Example.com")
        #expect(exact.text == "api.example.com")
        #expect(exact.matches("api.example.com") && exact.matches("API.EXAMPLE.COM"))
        #expect(!exact.matches("x.api.example.com") && !exact.matches("example.com"))
        let wildcard = try HostPattern(parsing: "*.example.com")
        #expect(wildcard.matches("api.example.com") && wildcard.matches("eu.api.example.com"))
        #expect(!wildcard.matches("example.com") && !wildcard.matches(".example.com") && !wildcard.matches("badexample.com"))
        for bad in ["", "*", "*.com", "a..b", "-a.com", "a_b.com", "*x.example.com", "api.*.com", "10.0.0.1", String(repeating: "a", count: 64) + ".com"] {
            #expect(throws: HostPatternError.self, "\(bad)") { try HostPattern(parsing: bad) }
        }
    }

    @Test("the cache adds a fleet's on-demand resources to its config, sends them to that fleet only, and keeps them across a publish")
    func cacheKeepsOnDemandPerFleet() async throws {
        let cache = SnapshotCache()
        let base = try Self.base(intercepting: ["api.example.com"])
        cache.publish(try SnapshotCache.check(byFleet: [:], fallback: base))
        var payments = cache.watch(fleet: "payments").makeAsyncIterator()
        var other = cache.watch(fleet: "other").makeAsyncIterator()
        _ = await payments.next()
        _ = await other.next()

        cache.addOnDemand([Self.secret("api.example.com")], of: .secret, fleet: "payments")
        let next = try #require(await payments.next())
        #expect(next.resources(of: .secret).keys.sorted() == ["api.example.com"])
        #expect(cache.snapshot(for: "other")?.resources(of: .secret).isEmpty == true)
        // The fleet's config versions are those of the base: certificates are not config.
        #expect(next.versionsOfNonEmptyTypes == base.versionsOfNonEmptyTypes)
        #expect(next.version != base.version)

        // A new config keeps what nodes asked for.
        let changed = try Snapshot(
            try Fixtures.snapshot(ecdsPayload: "v2").resources.mapValues { Array($0.values) },
            secretNames: base.secretNames)
        cache.publish(try SnapshotCache.check(byFleet: [:], fallback: changed))
        let after = try #require(await payments.next())
        #expect(after.resources(of: .secret).keys.sorted() == ["api.example.com"])
        #expect(after.filterVersions == changed.filterVersions)
        let otherAfter = try #require(await other.next())
        #expect(otherAfter.resources(of: .secret).isEmpty)

        cache.removeOnDemand(["api.example.com"], of: .secret, fleet: "payments")
        #expect(cache.snapshot(for: "payments")?.resources(of: .secret).isEmpty == true)
        #expect(cache.onDemand(of: .secret).isEmpty)
    }

    @Test("SotW answers a node with the secrets it asked for, labelled by just those: another node's new certificate sends it nothing")
    func sotwLabelsByWhatTheNodeHolds() throws {
        var snapshot = try Self.base(intercepting: ["*.example.com"]).adding([.secret: ["a.example.com": Self.secret("a.example.com")]])
        var stream = SotWStream()
        _ = stream.update(snapshot)
        let (_, responses) = stream.receive(Fixtures.sotw(.secret, names: ["a.example.com"]))
        let response = try #require(responses.only)
        #expect(response.resources.map(\.name) == ["a.example.com"])
        _ = stream.receive(Fixtures.sotw(.secret, names: ["a.example.com"], version: response.version, nonce: response.nonce))

        // Another node of the fleet got b.example.com: nothing changes for this one.
        snapshot = snapshot.adding([.secret: ["b.example.com": Self.secret("b.example.com")]])
        #expect(stream.update(snapshot).isEmpty)
        // Its own certificate is re-issued: it gets the new one.
        snapshot = snapshot.adding([.secret: ["a.example.com": Self.secret("a.example.com", "v2")]])
        let renewed = try #require(stream.update(snapshot).only)
        #expect(renewed.type == .secret)
        #expect(renewed.resources.map(\.version) == [Self.secret("a.example.com", "v2").version])
    }

    @Test("Delta sends a secret that appears after the node asked, and reports a name that will not exist as removed once")
    func deltaSendsOnDemand() throws {
        let base = try Self.base(intercepting: ["api.example.com"])
        var stream = DeltaStream()
        _ = stream.update(base)
        let (_, first) = stream.receive(Fixtures.delta(.secret, subscribe: ["api.example.com", "other.example.com"]))
        #expect(first.flatMap(\.removed).sorted() == ["api.example.com", "other.example.com"])
        let responses = stream.update(base.adding([.secret: ["api.example.com": Self.secret("api.example.com")]]))
        #expect(responses.flatMap(\.resources).map(\.name) == ["api.example.com"])
        #expect(responses.flatMap(\.removed).isEmpty)
    }

    @Test("on-demand types are left out of a node's sync state")
    func syncStateIgnoresSecrets() throws {
        let registry = NodeRegistry()
        let stream = registry.connect(nodeID: "n", fleet: "f", envoyVersion: "envoy/1.40.0", flavour: "sotw")
        let snapshot = try Fixtures.snapshot()
        for type in ResourceType.allCases where !type.isOnDemand && !snapshot.resources(of: type).isEmpty {
            _ = registry.record(
                .ack(type, version: snapshot.version(of: type), resources: snapshot.resources(of: type).mapValues(\.version)), nodeID: "n",
                stream: stream)
        }
        _ = registry.record(.ack(.secret, version: "whatever", resources: ["api.example.com": "x"]), nodeID: "n", stream: stream)
        let status = try #require(registry.status(of: "n"))
        #expect(status.syncState(against: snapshot.adding([.secret: ["api.example.com": Self.secret("api.example.com", "y")]])) == .inSync)
    }
}
