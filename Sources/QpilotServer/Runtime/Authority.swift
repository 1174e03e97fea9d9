import Foundation
import PKI
import Store

extension ServerSettings {
    /// Where qpilot keeps the CA it makes: `<dataDir>/ca/`.
    public var caDirectory: URL { dataDir.appendingPathComponent("ca") }

    /// qpilot's CA: the operator's (`tls.caCertFile`, `tls.caKeyFile`), or the one in
    /// `<dataDir>/ca/`, made there the first time (`created`). Problems name the setting.
    public func certificateAuthority() throws(QpilotError) -> (authority: CertificateAuthority, created: Bool) {
        do {
            if let cert = tls.caCertFile, let key = tls.caKeyFile {
                return (try CertificateAuthority.load(certificate: cert, key: key), false)
            }
            return try CertificateAuthority.loadOrCreate(in: caDirectory)
        } catch {
            throw QpilotError(.invalid, error.description)
        }
    }

    /// The CA certificate (PEM) for `qpilot ca export`, with qpilot stopped or running: read from
    /// the files when they exist, made first (under the data directory's lock) when they do not.
    public func exportCertificateAuthority() throws(QpilotError) -> (pem: String, created: Bool) {
        let certificate = caDirectory.appendingPathComponent(CertificateAuthority.certificateFile)
        if tls.caCertFile != nil || FileManager.default.fileExists(atPath: certificate.path) {
            let (authority, _) = try certificateAuthority()
            return (authority.pem, false)
        }
        do {
            if !FileManager.default.fileExists(atPath: dataDir.path) {
                try FileManager.default.createDirectory(at: dataDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
        } catch {
            throw QpilotError(.store, "cannot make the data directory \(dataDir.path): \(error)")
        }
        let lock: DirectoryLock
        do {
            lock = try DirectoryLock(directory: dataDir)
        } catch {
            throw QpilotError(.store, "\(error)")
        }
        defer { withExtendedLifetime(lock) {} }
        let (authority, created) = try certificateAuthority()
        return (authority.pem, created)
    }
}
