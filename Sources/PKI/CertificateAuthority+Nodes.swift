import Crypto
import Foundation
import SwiftASN1
import X509

/// The certificates of qpilot's own connections (issue 12): the server certificate of the xDS and
/// module ports, and each enrolled Envoy's client certificate, which names its fleet and node.
extension CertificateAuthority {
    /// A server certificate for qpilot's ports, with its new key.
    public struct ServerCertificate: Sendable {
        public var certificate: Certificate
        public var certificatePEM: String
        public var privateKeyPEM: String
        public var notValidAfter: Date
    }

    /// The URI SAN of qpilot's own server certificate. Envoy's bootstrap accepts only a server
    /// certificate that holds it: the same CA signs the leaves of intercepted names, whose keys
    /// Envoys hold, and those carry DNS names only.
    public static let serverIdentity = "spiffe://\(NodeIdentity.trustDomain)/server"

    /// Signs a server certificate for DNS names and IP addresses (`names`) and `serverIdentity`,
    /// with a new P-256 key.
    public func issueServer(names: [String], lifetime: TimeInterval, now: Date = Date()) throws -> ServerCertificate {
        let privateKey = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(privateKey.publicKey)
        let notAfter = min(now.addingTimeInterval(lifetime), certificate.notValidAfter)
        let sans: [GeneralName] = names.map { name in
            if let bytes = Self.addressBytes(name) { return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))) }
            return .dnsName(name)
        } + [.uniformResourceIdentifier(Self.serverIdentity)]
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: notAfter,
            issuer: certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("qpilot")
                CommonName(String((names.first ?? "qpilot").prefix(64)))
            },
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(sans)
                AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: key)
        return ServerCertificate(
            certificate: leaf, certificatePEM: try leaf.serializeAsPEM().pemString,
            privateKeyPEM: try Certificate.PrivateKey(privateKey).serializeAsPEM().pemString, notValidAfter: notAfter)
    }

    /// An Envoy's client certificate, for the key of `request` (whose signature proves the
    /// caller holds it), naming `identity` in its URI SAN and nothing else the request asks for.
    public func issueNode(
        for request: CertificateSigningRequest, identity: NodeIdentity, lifetime: TimeInterval, now: Date = Date()
    ) throws(PKIError) -> Certificate {
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw PKIError("the certificate request's signature does not verify with its own key")
        }
        do {
            return try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: request.publicKey,
                notValidBefore: now.addingTimeInterval(-300),
                notValidAfter: min(now.addingTimeInterval(lifetime), certificate.notValidAfter),
                issuer: certificate.subject,
                subject: try DistinguishedName {
                    OrganizationName("qpilot")
                    OrganizationalUnitName(String(identity.fleet.prefix(64)))
                    CommonName(String(identity.node.prefix(64)))
                },
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.clientAuth])
                    SubjectAlternativeNames([.uniformResourceIdentifier(identity.uri)])
                    AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
                },
                issuerPrivateKey: key)
        } catch {
            throw PKIError("cannot sign the node certificate: \(error)")
        }
    }

    /// The identity a node certificate names, when this CA signed it and it is valid at `now`.
    public func verifyNode(_ node: Certificate, now: Date = Date()) throws(PKIError) -> NodeIdentity {
        guard node.issuer == certificate.subject, certificate.publicKey.isValidSignature(node.signature, for: node) else {
            throw PKIError("the certificate was not issued by this qpilot's CA")
        }
        guard node.notValidBefore <= now.addingTimeInterval(300), now < node.notValidAfter else {
            throw PKIError("the certificate expired on \(ISO8601DateFormatter().string(from: node.notValidAfter))")
        }
        guard let identity = Self.identity(of: node) else {
            throw PKIError("the certificate names no qpilot node (no spiffe://qpilot/fleet/…/node/… URI SAN)")
        }
        return identity
    }

    /// The qpilot node a certificate's URI SAN names, when exactly one does.
    public static func identity(of certificate: Certificate) -> NodeIdentity? {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return nil }
        let identities = names.compactMap { name -> NodeIdentity? in
            if case .uniformResourceIdentifier(let uri) = name { return NodeIdentity(uri: uri) }
            return nil
        }
        return identities.count == 1 ? identities[0] : nil
    }

    /// The 4 or 16 bytes of an IP literal, else nil.
    static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

extension Certificate {
    /// The certificate as PEM text.
    public var pemText: String {
        get throws { try serializeAsPEM().pemString }
    }
}
