import Crypto
import Foundation
import SwiftASN1
import X509

/// qpilot's own certificate authority: an ECDSA P-256 key and a self-signed CA certificate,
/// made once in the data directory or supplied by the operator. It signs the leaf certificates
/// that Envoy presents to clients for intercepted HTTPS names (issue 11). Made with
/// swift-certificates and swift-crypto; no openssl subprocess.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    let key: Certificate.PrivateKey

    /// The CA certificate as PEM, what clients are told to trust.
    public let pem: String

    /// Lowercase hex SHA-256 of the certificate's DER bytes, as `openssl x509 -fingerprint -sha256` shows it (without colons).
    public let fingerprint: String

    init(certificate: Certificate, key: Certificate.PrivateKey) throws {
        self.certificate = certificate
        self.key = key
        // With a final newline, so that a bundle made with `cat` stays valid PEM.
        let text = try certificate.serializeAsPEM().pemString
        pem = text.hasSuffix("\n") ? text : text + "\n"
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        fingerprint = SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02x", $0) }.joined()
    }

    /// How long the CA qpilot makes is valid: ten years. Rotating it means every client trusts a new one.
    public static let caLifetime: TimeInterval = 10 * 365 * 24 * 3600

    /// File names inside the CA's directory.
    public static let certificateFile = "ca.crt"
    public static let keyFile = "ca.key"

    /// A new CA, valid from an hour ago (clocks differ) for `caLifetime`.
    public static func create(commonName: String = "qpilot CA", now: Date = Date()) throws -> CertificateAuthority {
        let privateKey = P256.Signing.PrivateKey()
        let key = Certificate.PrivateKey(privateKey)
        let name = try DistinguishedName {
            OrganizationName("qpilot")
            CommonName(commonName)
        }
        let publicKey = Certificate.PublicKey(privateKey.publicKey)
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(caLifetime),
            issuer: name, subject: name,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: publicKey)
            },
            issuerPrivateKey: key)
        return try CertificateAuthority(certificate: certificate, key: key)
    }

    /// The CA in `directory` (`ca.crt`, `ca.key`), made there first when neither file exists.
    /// The key is written with mode 0600 before any byte of it, and the directory is 0700.
    public static func loadOrCreate(in directory: URL) throws(PKIError) -> (authority: CertificateAuthority, created: Bool) {
        let certURL = directory.appendingPathComponent(certificateFile)
        let keyURL = directory.appendingPathComponent(keyFile)
        let manager = FileManager.default
        switch (manager.fileExists(atPath: certURL.path), manager.fileExists(atPath: keyURL.path)) {
        case (true, true):
            return (try load(certificate: certURL, key: keyURL, certField: certURL.path, keyField: keyURL.path), false)
        case (false, false):
            break
        case (true, false), (false, true):
            throw PKIError(
                "\(directory.path) holds only one of \(certificateFile) and \(keyFile); restore the other from a backup, or move both away to make a new CA (clients must then trust the new one)")
        }
        do {
            try manager.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let authority = try create()
            try write(try authority.key.serializeAsPEM().pemString, to: keyURL, mode: 0o600)
            try write(authority.pem, to: certURL, mode: 0o644)
            return (authority, true)
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError("cannot make a CA in \(directory.path): \(error)")
        }
    }

    /// An operator's CA: a PEM certificate that may sign certificates, and its PEM private key
    /// (PKCS#8 or SEC1; P-256, P-384 or RSA). Each problem names the setting it is about.
    public static func load(
        certificate certURL: URL, key keyURL: URL, certField: String = "tls.caCertFile", keyField: String = "tls.caKeyFile",
        now: Date = Date()
    ) throws(PKIError) -> CertificateAuthority {
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: try read(certURL, field: certField))
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError("\(certField): \(certURL.path) is not a PEM certificate (\(error))")
        }
        let key: Certificate.PrivateKey
        do {
            key = try Certificate.PrivateKey(pemEncoded: try read(keyURL, field: keyField))
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError("\(keyField): \(keyURL.path) is not a PEM private key (\(error))")
        }
        let constraints = try? certificate.extensions.basicConstraints
        guard case .isCertificateAuthority = constraints else {
            throw PKIError("\(certField): \(certURL.path) is not a CA certificate (its basic constraints do not allow it to sign certificates)")
        }
        if let usage = try? certificate.extensions.keyUsage, !usage.keyCertSign {
            throw PKIError("\(certField): \(certURL.path) is not a CA certificate (its key usage does not include certificate signing)")
        }
        guard key.publicKey == certificate.publicKey else {
            throw PKIError("\(keyField): \(keyURL.path) is not the key of \(certURL.path)")
        }
        guard certificate.notValidAfter > now else {
            throw PKIError("\(certField): \(certURL.path) expired on \(ISO8601DateFormatter().string(from: certificate.notValidAfter))")
        }
        do {
            return try CertificateAuthority(certificate: certificate, key: key)
        } catch {
            throw PKIError("\(certField): \(certURL.path): \(error)")
        }
    }

    /// A leaf certificate and its new key, for one DNS name.
    public struct Leaf: Sendable {
        public var certificatePEM: String
        public var privateKeyPEM: String
        public var notValidAfter: Date
    }

    /// Signs a server certificate for `name` (a DNS name, or `*.` and a domain) with a new P-256
    /// key, valid from five minutes ago for `lifetime` and never past the CA's own end.
    public func issue(for name: String, lifetime: TimeInterval, now: Date = Date()) throws -> Leaf {
        let privateKey = P256.Signing.PrivateKey()
        let publicKey = Certificate.PublicKey(privateKey.publicKey)
        let notAfter = min(now.addingTimeInterval(lifetime), certificate.notValidAfter)
        let authorityKey = try certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: notAfter,
            issuer: certificate.subject,
            subject: try DistinguishedName { CommonName(String(name.prefix(64))) },
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName(name)])
                AuthorityKeyIdentifier(keyIdentifier: authorityKey)
            },
            issuerPrivateKey: key)
        return Leaf(
            certificatePEM: try leaf.serializeAsPEM().pemString,
            privateKeyPEM: try Certificate.PrivateKey(privateKey).serializeAsPEM().pemString, notValidAfter: notAfter)
    }

    static func read(_ url: URL, field: String) throws(PKIError) -> String {
        do {
            return try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw PKIError("\(field): cannot read \(url.path): \((error as NSError).localizedDescription)")
        }
    }

    static func write(_ text: String, to url: URL, mode: mode_t) throws(PKIError) {
        let fd = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw PKIError("cannot create \(url.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw PKIError("cannot write \(url.path): \(String(cString: strerror(errno)))") }
            written += count
        }
        guard fsync(fd) == 0 else { throw PKIError("cannot write \(url.path): \(String(cString: strerror(errno)))") }
    }
}

/// A CA that cannot be made or used, with what to do about it.
public struct PKIError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
