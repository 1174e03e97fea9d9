import Crypto
import Foundation
import PKI
import SwiftASN1
import Testing
import X509

@Suite("qpilot's certificate authority")
struct CertificateAuthorityTests {
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func validate(_ leafPEM: String, by authority: CertificateAuthority, hostname: String, at time: Date = Date()) async throws
        -> CertificateValidationResult
    {
        var verifier = Verifier(rootCertificates: CertificateStore([authority.certificate])) {
            RFC5280Policy(validationTime: time)
            ServerIdentityPolicy(serverHostname: hostname, serverIP: nil)
        }
        return await verifier.validate(leaf: try Certificate(pemEncoded: leafPEM), intermediates: CertificateStore())
    }

    @Test("a leaf it signs verifies against the CA for its name (and a wildcard for one label), and for no other")
    func leavesVerify() async throws {
        let authority = try CertificateAuthority.create()
        let leaf = try authority.issue(for: "api.example.test", lifetime: 3600)
        guard case .validCertificate(let chain) = try await Self.validate(leaf.certificatePEM, by: authority, hostname: "api.example.test") else {
            Issue.record("the leaf did not verify")
            return
        }
        #expect(chain.count == 2)
        if case .validCertificate = try await Self.validate(leaf.certificatePEM, by: authority, hostname: "evil.example.test") {
            Issue.record("a leaf verified for a name it does not carry")
        }
        let wildcard = try authority.issue(for: "*.example.test", lifetime: 3600)
        if case .couldNotValidate = try await Self.validate(wildcard.certificatePEM, by: authority, hostname: "uploads.example.test") {
            Issue.record("a wildcard leaf did not verify for a name under it")
        }
        if case .validCertificate = try await Self.validate(wildcard.certificatePEM, by: authority, hostname: "a.b.example.test") {
            Issue.record("a wildcard matched two labels")
        }
        // Its key is its own, in PEM, and matches the certificate.
        let key = try Certificate.PrivateKey(pemEncoded: leaf.privateKeyPEM)
        #expect(key.publicKey == (try Certificate(pemEncoded: leaf.certificatePEM)).publicKey)
    }

    @Test("a leaf's lifetime is what was asked, within the CA's own, and it is not valid after it")
    func lifetimes() async throws {
        let now = Date()
        let authority = try CertificateAuthority.create(now: now)
        let leaf = try authority.issue(for: "api.example.test", lifetime: 600, now: now)
        #expect(abs(leaf.notValidAfter.timeIntervalSince(now) - 600) < 1)
        if case .validCertificate = try await Self.validate(
            leaf.certificatePEM, by: authority, hostname: "api.example.test", at: now.addingTimeInterval(700))
        {
            Issue.record("a leaf verified after its end")
        }
        let long = try authority.issue(for: "api.example.test", lifetime: CertificateAuthority.caLifetime * 2, now: now)
        #expect(long.notValidAfter <= authority.certificate.notValidAfter)
    }

    @Test("made once in its directory, key 0600: a second start loads the same CA")
    func loadOrCreate() throws {
        let directory = try Self.temporaryDirectory().appendingPathComponent("ca")
        let (first, created) = try CertificateAuthority.loadOrCreate(in: directory)
        #expect(created)
        let (second, createdAgain) = try CertificateAuthority.loadOrCreate(in: directory)
        #expect(!createdAgain)
        #expect(second.fingerprint == first.fingerprint)
        #expect(second.pem == first.pem)
        let keyMode = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("ca.key").path)[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        let dirMode = try FileManager.default.attributesOfItem(atPath: directory.path)[.posixPermissions] as? Int
        #expect(dirMode == 0o700)
        #expect(try first.certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(first.fingerprint.count == 64)
    }

    @Test("half a CA (one of the two files) is refused with what to do, never replaced")
    func halfACA() throws {
        let directory = try Self.temporaryDirectory()
        _ = try CertificateAuthority.loadOrCreate(in: directory)
        try FileManager.default.removeItem(at: directory.appendingPathComponent("ca.key"))
        let error = #expect(throws: PKIError.self) { try CertificateAuthority.loadOrCreate(in: directory) }
        #expect(error?.description.contains("holds only one of ca.crt and ca.key") == true, "\(String(describing: error))")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("ca.key").path))
    }

    @Test("an operator's CA is used when it is a CA with its own key; anything else is refused naming the setting")
    func operatorCA() throws {
        let directory = try Self.temporaryDirectory()
        let authority = try CertificateAuthority.create(commonName: "Acme egress CA")
        let certURL = directory.appendingPathComponent("acme.crt")
        let keyURL = directory.appendingPathComponent("acme.key")
        try authority.pem.write(to: certURL, atomically: true, encoding: .utf8)
        let made = try CertificateAuthority.loadOrCreate(in: directory.appendingPathComponent("made"))
        try String(contentsOf: directory.appendingPathComponent("made/ca.key"), encoding: .utf8)
            .write(to: directory.appendingPathComponent("other.key"), atomically: true, encoding: .utf8)
        _ = made
        // The right key: the one `create` made is not exported, so export it through a round trip.
        let roundTrip = try Self.temporaryDirectory()
        let (own, _) = try CertificateAuthority.loadOrCreate(in: roundTrip)
        let ownCert = roundTrip.appendingPathComponent("ca.crt")
        let ownKey = roundTrip.appendingPathComponent("ca.key")
        let loaded = try CertificateAuthority.load(certificate: ownCert, key: ownKey)
        #expect(loaded.fingerprint == own.fingerprint)

        let leafURL = directory.appendingPathComponent("leaf.crt")
        try own.issue(for: "x.example.test", lifetime: 60).certificatePEM.write(to: leafURL, atomically: true, encoding: .utf8)
        let garbage = directory.appendingPathComponent("garbage.crt")
        try "hello".write(to: garbage, atomically: true, encoding: .utf8)
        let cases: [(URL, URL, String)] = [
            (leafURL, ownKey, "tls.caCertFile: \(leafURL.path) is not a CA certificate"),
            (ownCert, directory.appendingPathComponent("other.key"), "tls.caKeyFile: \(directory.path)/other.key is not the key of \(ownCert.path)"),
            (garbage, ownKey, "tls.caCertFile: \(garbage.path) is not a PEM certificate"),
            (ownCert, garbage, "tls.caKeyFile: \(garbage.path) is not a PEM private key"),
            (directory.appendingPathComponent("missing.crt"), ownKey, "tls.caCertFile: cannot read"),
            (certURL, ownKey, "is not the key of"),
        ]
        for (cert, key, message) in cases {
            let error = #expect(throws: PKIError.self) { try CertificateAuthority.load(certificate: cert, key: key) }
            #expect(error?.description.hasPrefix(message) == true || error?.description.contains(message) == true, "\(String(describing: error))")
        }
    }
}

@Suite("node and server certificates (issue 12)")
struct NodeCertificateTests {
    static func request(for key: P256.Signing.PrivateKey, name: String = "n1") throws -> CertificateSigningRequest {
        try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(name) }, privateKey: Certificate.PrivateKey(key),
            attributes: CertificateSigningRequest.Attributes())
    }

    @Test("a SPIFFE ID round-trips, with node ids that hold '/', '~' and spaces percent-encoded; other URIs are not qpilot nodes")
    func identities() {
        for (fleet, node) in [("edge", "envoy-1"), ("a b", "sidecar~10.0.0.1~pod.ns~ns.svc"), ("x/y", "n/1%")] {
            let identity = NodeIdentity(fleet: fleet, node: node)
            #expect(identity.uri.hasPrefix("spiffe://qpilot/fleet/"))
            #expect(identity.uri.split(separator: "/").count == 6, "\(identity.uri)")
            #expect(NodeIdentity(uri: identity.uri) == identity)
        }
        for uri in ["spiffe://other/fleet/a/node/b", "spiffe://qpilot/fleet/a", "spiffe://qpilot/fleet/a/node/b/c", "spiffe://qpilot/fleet//node/b"] {
            #expect(NodeIdentity(uri: uri) == nil, "\(uri)")
        }
    }

    @Test("a node certificate names the identity qpilot chose (not the request's subject), is for client auth, and verifies only against its CA while valid")
    func nodeCertificates() throws {
        let authority = try CertificateAuthority.create()
        let key = P256.Signing.PrivateKey()
        let now = Date()
        let identity = NodeIdentity(fleet: "edge", node: "n1")
        let certificate = try authority.issueNode(for: try Self.request(for: key, name: "admin"), identity: identity, lifetime: 600, now: now)
        #expect(certificate.publicKey == Certificate.PublicKey(key.publicKey))
        #expect(CertificateAuthority.identity(of: certificate) == identity)
        #expect(try certificate.extensions.extendedKeyUsage?.contains(.clientAuth) == true)
        #expect(try certificate.extensions.extendedKeyUsage?.contains(.serverAuth) == false)
        #expect(try authority.verifyNode(certificate, now: now) == identity)
        #expect(throws: PKIError.self) { try authority.verifyNode(certificate, now: now.addingTimeInterval(601)) }
        let other = try CertificateAuthority.create()
        #expect(throws: PKIError.self) { try other.verifyNode(certificate, now: now) }
        // A request whose signature does not match its key (a tampered request) is refused.
        let good = try Self.request(for: key)
        let forged = try CertificateSigningRequest(
            version: good.version, subject: good.subject, publicKey: Certificate.PublicKey(P256.Signing.PrivateKey().publicKey),
            attributes: good.attributes, signatureAlgorithm: good.signatureAlgorithm, signature: good.signature)
        #expect(throws: PKIError.self) { try authority.issueNode(for: forged, identity: identity, lifetime: 600) }
    }

    @Test("qpilot's server certificate holds its DNS names and IP addresses, for server auth")
    func serverCertificate() throws {
        let authority = try CertificateAuthority.create()
        let issued = try authority.issueServer(names: ["qpilot.example.test", "127.0.0.1", "::1"], lifetime: 3600)
        let names = try #require(try issued.certificate.extensions.subjectAlternativeNames)
        #expect(names.contains(.dnsName("qpilot.example.test")))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))))
        #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1])))))
        #expect(names.contains(.uniformResourceIdentifier(CertificateAuthority.serverIdentity)))
        #expect(CertificateAuthority.identity(of: issued.certificate) == nil, "qpilot's server certificate names no node")
        #expect(try issued.certificate.extensions.extendedKeyUsage?.contains(.serverAuth) == true)
        #expect(issued.notValidAfter <= authority.certificate.notValidAfter)
    }
}
