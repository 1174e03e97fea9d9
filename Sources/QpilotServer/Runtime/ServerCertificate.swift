import Foundation
import Logging
import NIOCertificateReloading
import NIOSSL
import PKI
import Synchronization

/// qpilot's own server certificate for the xDS and module ports, issued by its CA for
/// `ServerSettings.serverCertificateNames` and re-issued in memory after two thirds of its life.
/// NIOSSL asks `sslContextConfigurationOverride` at each new handshake, so a renewal reaches new
/// connections while open streams keep the one they were made with (nothing is dropped).
public final class ServerCertificate: CertificateReloader, Sendable {
    let authority: CertificateAuthority
    let names: [String]
    let lifetime: TimeInterval
    let logger: Logger
    private let current: Mutex<(override: NIOSSLContextConfigurationOverride, expires: Date, issued: Date)>

    public init(authority: CertificateAuthority, names: [String], lifetime: TimeInterval, logger: Logger) throws {
        self.authority = authority
        self.names = names
        self.lifetime = lifetime
        self.logger = logger
        current = Mutex(try Self.issue(authority, names, lifetime))
    }

    public var sslContextConfigurationOverride: NIOSSLContextConfigurationOverride {
        current.withLock { $0.override }
    }

    /// When the certificate in use expires.
    public var expires: Date { current.withLock { $0.expires } }

    /// The trust roots clients are given: qpilot's CA.
    public var trustRoots: [NIOSSLCertificate] {
        get throws { try NIOSSLCertificate.fromPEMBytes(Array(authority.pem.utf8)) }
    }

    /// Re-issues the certificate when two thirds of its life have passed; true when it did.
    @discardableResult
    public func renewIfDue(now: Date = Date()) -> Bool {
        let due = current.withLock { $0.issued.addingTimeInterval(lifetime * 2 / 3) <= now }
        guard due else { return false }
        do {
            let fresh = try Self.issue(authority, names, lifetime, now: now)
            current.withLock { $0 = fresh }
            logger.info("renewed qpilot's server certificate", metadata: ["expires": "\(fresh.expires)"])
            return true
        } catch {
            logger.error("cannot renew qpilot's server certificate; the current one stays", metadata: ["error": "\(error)"])
            return false
        }
    }

    private static func issue(
        _ authority: CertificateAuthority, _ names: [String], _ lifetime: TimeInterval, now: Date = Date()
    ) throws -> (override: NIOSSLContextConfigurationOverride, expires: Date, issued: Date) {
        let issued = try authority.issueServer(names: names, lifetime: lifetime, now: now)
        var override = NIOSSLContextConfigurationOverride()
        override.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(issued.certificatePEM.utf8)).map { .certificate($0) }
        override.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(issued.privateKeyPEM.utf8), format: .pem))
        return (override, issued.notValidAfter, now)
    }
}
