import Foundation
import SwiftASN1
import X509

/// Certificate authorities given as PEM, checked before Envoy is told to trust them.
public enum TrustedRoots {
    /// The largest PEM file read: far above any real bundle (Debian's is about 220 KB).
    public static let maxBytes = 4 * 1024 * 1024

    /// Reads a PEM file of one or more certificates; each problem names `field`.
    public static func read(_ url: URL, field: String) throws(PKIError) -> String {
        let text = try readCapped(url, field: field)
        let count = try check(text, field: "\(field): \(url.path)")
        guard count > 0 else { throw PKIError("\(field): \(url.path) holds no PEM certificate (BEGIN CERTIFICATE)") }
        return text
    }

    /// The number of certificates in `pem`; throws when a block is not a certificate.
    public static func check(_ pem: String, field: String) throws(PKIError) -> Int {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: pem)
        } catch {
            throw PKIError("\(field) is not PEM (\(error))")
        }
        for (index, document) in documents.enumerated() {
            guard document.discriminator == "CERTIFICATE" else {
                throw PKIError("\(field): block \(index + 1) is a \(document.discriminator), not a CERTIFICATE")
            }
            do {
                _ = try Certificate(derEncoded: document.derBytes)
            } catch {
                throw PKIError("\(field): certificate \(index + 1) does not parse (\(error))")
            }
        }
        return documents.count
    }

    /// Reads a regular file of at most `maxBytes`, so a path to a device or a huge file cannot
    /// stall or exhaust qpilot.
    static func readCapped(_ url: URL, field: String) throws(PKIError) -> String {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PKIError("\(field): cannot read \(url.path): no such file")
        }
        // Links are followed: a link to a PEM file is fine, a device or a directory is not.
        guard (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true else {
            throw PKIError("\(field): \(url.path) is not a regular file")
        }
        guard let handle = FileHandle(forReadingAtPath: url.path) else {
            throw PKIError("\(field): cannot read \(url.path): permission denied")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maxBytes + 1) ?? Data()
        } catch {
            throw PKIError("\(field): cannot read \(url.path): \(error.localizedDescription)")
        }
        guard data.count <= maxBytes else { throw PKIError("\(field): \(url.path) is larger than \(maxBytes) bytes") }
        guard let text = String(data: data, encoding: .utf8) else { throw PKIError("\(field): \(url.path) is not UTF-8 text") }
        return text
    }
}
