import Crypto
import Foundation

/// Bearer tokens for the admin API, from a file of `TOKEN ROLE` lines (ROLE is `admin` or `read`;
/// `#` starts a comment). Tokens are compared by their sha256, in constant time.
public struct Tokens: Sendable {
    public enum Role: String, Sendable, Comparable {
        case read, admin
        public static func < (lhs: Self, rhs: Self) -> Bool { lhs == .read && rhs == .admin }
    }

    private let roles: [(digest: [UInt8], role: Role)]

    public init(_ entries: [(token: String, role: Role)]) {
        roles = entries.map { (Array(SHA256.hash(data: Data($0.token.utf8))), $0.role) }
    }

    /// Parses a tokens file; errors name the line.
    public static func parse(_ text: String, file: String) throws -> Tokens {
        var entries: [(String, Role)] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let fields = line.split(whereSeparator: \.isWhitespace)
            if fields.isEmpty { continue }
            guard fields.count == 2, let role = Role(rawValue: String(fields[1])) else {
                throw TokensError("\(file) line \(index + 1): expected 'TOKEN ROLE' with ROLE admin or read")
            }
            guard fields[0].count >= 16 else {
                throw TokensError("\(file) line \(index + 1): a token needs at least 16 characters")
            }
            entries.append((String(fields[0]), role))
        }
        guard !entries.isEmpty else { throw TokensError("\(file) holds no tokens; add a line 'TOKEN admin'") }
        return Tokens(entries)
    }

    /// Loads `path`, or when there is no such file creates it (mode 0600) with one random admin
    /// token and reports that it did.
    public static func loadOrCreate(at url: URL) throws -> (tokens: Tokens, created: Bool) {
        if FileManager.default.fileExists(atPath: url.path) {
            // A file that exists is the operator's: never replaced, even when it cannot be read.
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw TokensError("cannot read \(url.path); qpilot does not replace a tokens file it cannot read (check its owner and mode)")
            }
            // The file itself, through any symbolic link (a mounted secret usually is one).
            var info = stat()
            if stat(url.path, &info) == 0, Int(info.st_mode) & 0o077 != 0 {
                let mode = Int(info.st_mode)
                throw TokensError(
                    "\(url.path) can be read by other users (mode \(String(mode & 0o777, radix: 8))); its tokens grant access to the admin API: chmod 600 \(url.path)")
            }
            return (try parse(String(decoding: data, as: UTF8.self), file: url.path), false)
        }
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let token = bytes.map { String(format: "%02x", $0) }.joined()
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let text = "# qpilot admin API tokens: one 'TOKEN ROLE' per line, ROLE is admin or read.\n\(token) admin\n"
        guard FileManager.default.createFile(atPath: url.path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw TokensError("cannot create \(url.path)")
        }
        return (Tokens([(token, .admin)]), true)
    }

    /// The role of a presented token, or nil.
    public func role(of token: String) -> Role? {
        let digest = Array(SHA256.hash(data: Data(token.utf8)))
        var found: Role?
        for entry in roles {
            var difference: UInt8 = 0
            for (a, b) in zip(entry.digest, digest) { difference |= a ^ b }
            if difference == 0 { found = max(found ?? entry.role, entry.role) }
        }
        return found
    }
}

public struct TokensError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
