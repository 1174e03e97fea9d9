import EnvoyAPI
import Foundation
import Logging
import PKI
import QpilotAPI
import QpilotServer
import QpilotTestSupport
import SwiftASN1
import SwiftProtobuf
import Synchronization
import Testing
import X509
import XDS

@Suite("Certificates of intercepted names")
struct LeafCertificatesTests {
    /// A clock the test moves.
    final class Clock: Sendable {
        private let now = Mutex(Date(timeIntervalSince1970: 1_900_000_000))
        func read() -> Date { now.withLock { $0 } }
        func advance(_ seconds: TimeInterval) { now.withLock { $0 = $0.addingTimeInterval(seconds) } }
    }

    static func publish(_ cache: SnapshotCache, intercepting patterns: [String]) throws {
        let snapshot = try Snapshot([:], secretNames: patterns.map { try HostPattern(parsing: $0) })
        cache.publish(try SnapshotCache.check(byFleet: [:], fallback: snapshot))
    }

    static func secret(_ resource: Resource) throws -> Envoy_Extensions_TransportSockets_Tls_V3_Secret {
        try Envoy_Extensions_TransportSockets_Tls_V3_Secret(serializedBytes: resource.body.value)
    }

    @Test("no leaf is minted for qpilot's own server names, even when the fleet intercepts their domain: its key would pass for qpilot")
    func reservedNames() throws {
        let cache = SnapshotCache()
        try Self.publish(cache, intercepting: ["*.example.com"])
        let certificates = LeafCertificates(
            authority: try CertificateAuthority.create(), cache: cache, lifetime: 3600, versionKey: nil, logger: Logger(label: "test"),
            reservedNames: ["QPilot.example.com", "127.0.0.1"])
        #expect(!certificates.requested(["qpilot.example.com"], of: .secret, fleet: "default"))
        #expect(certificates.requested(["api.example.com", "qpilot.example.com"], of: .secret, fleet: "default"))
        #expect(try #require(cache.snapshot(for: "default")).resources(of: .secret).keys.sorted() == ["api.example.com"])
    }

    @Test("a leaf is minted only for a name the fleet intercepts, signed by qpilot's CA for that name; other names get nothing")
    func mintsOnlyIntercepted() throws {
        let authority = try CertificateAuthority.create()
        let cache = SnapshotCache()
        try Self.publish(cache, intercepting: ["*.example.com"])
        let clock = Clock()
        let certificates = LeafCertificates(
            authority: authority, cache: cache, lifetime: 3600, versionKey: nil, logger: Logger(label: "test"), now: clock.read)

        #expect(certificates.requested(["api.example.com", "evil.test"], of: .secret, fleet: "default"))
        #expect(!certificates.requested(["evil.test"], of: .secret, fleet: "default"))
        #expect(!certificates.requested(["api.example.com"], of: .cluster, fleet: "default"))
        let held = try #require(cache.snapshot(for: "default")).resources(of: .secret)
        #expect(held.keys.sorted() == ["api.example.com"])

        let secret = try Self.secret(try #require(held["api.example.com"]))
        #expect(secret.name == "api.example.com")
        let leaf = try Certificate(pemEncoded: secret.tlsCertificate.certificateChain.inlineString)
        #expect(leaf.issuer == authority.certificate.subject)
        #expect(try leaf.extensions.subjectAlternativeNames == SubjectAlternativeNames([.dnsName("api.example.com")]))
        #expect(leaf.notValidAfter.timeIntervalSince(clock.read()) <= 3600)
        _ = try Certificate.PrivateKey(pemEncoded: secret.tlsCertificate.privateKey.inlineString)
        #expect(certificates.minted.map(\.name) == ["api.example.com"])
        #expect(certificates.mintedCount == 1)

        // Asked again (another node of the fleet): the same leaf, not a new one.
        #expect(certificates.requested(["api.example.com"], of: .secret, fleet: "default"))
        #expect(certificates.mintedCount == 1)
    }

    @Test("a leaf past two thirds of its life is re-issued; a name no longer intercepted keeps its leaf until it expires, then it is dropped")
    func renewsAndDrops() throws {
        let cache = SnapshotCache()
        try Self.publish(cache, intercepting: ["a.example.com", "b.example.com"])
        let clock = Clock()
        let certificates = LeafCertificates(
            authority: try CertificateAuthority.create(), cache: cache, lifetime: 30, versionKey: nil, logger: Logger(label: "test"),
            now: clock.read)
        _ = certificates.requested(["a.example.com", "b.example.com"], of: .secret, fleet: "default")
        let first = try #require(cache.snapshot(for: "default")).resources(of: .secret)

        clock.advance(15)
        #expect(certificates.renew().isEmpty, "re-issued before two thirds of the life were gone")
        clock.advance(6)
        try Self.publish(cache, intercepting: ["a.example.com"])
        #expect(certificates.renew() == ["a.example.com"])
        let second = try #require(cache.snapshot(for: "default")).resources(of: .secret)
        #expect(second["a.example.com"]?.version != first["a.example.com"]?.version)
        #expect(second["b.example.com"]?.version == first["b.example.com"]?.version, "no longer intercepted, yet re-issued")

        clock.advance(10)
        certificates.renew()
        let third = try #require(cache.snapshot(for: "default")).resources(of: .secret)
        #expect(third.keys.sorted() == ["a.example.com"])
        #expect(certificates.minted.map(\.name) == ["a.example.com"])
    }
}
