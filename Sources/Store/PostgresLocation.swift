import Foundation
import NIOCore
import NIOSSL
import PostgresNIO

/// Where a PostgreSQL store lives: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE]`,
/// the form libpq and every PostgreSQL tool read. The password should come from a file
/// (`passwordFile`), not the URL, which ends up in configs, process lists and logs.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// Plaintext: loopback or a private network only.
        case disable
        /// TLS, without checking the server's certificate (libpq's `require`).
        case require
        /// TLS, with the server's certificate checked against the system's roots and its name.
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLSMode

    public init(host: String, port: Int = 5432, user: String, password: String?, database: String, tls: TLSMode = .disable) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
    }

    /// Parses a `postgres://` URL; `passwordFile`, when given, holds the password (its first line)
    /// and wins over one in the URL.
    public init(url text: String, passwordFile: URL? = nil) throws {
        let example = "postgres://qpilot@db.internal:5432/qpilot?sslmode=verify-full"
        guard let components = URLComponents(string: text), let scheme = components.scheme,
            ["postgres", "postgresql"].contains(scheme.lowercased())
        else {
            throw StoreError.unusable("the store URL must look like \(example), not '\(Self.redacted(text))'")
        }
        guard let host = components.host, !host.isEmpty else {
            throw StoreError.unusable("the store URL '\(Self.redacted(text))' names no host; for example \(example)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw StoreError.unusable("the store URL '\(Self.redacted(text))' names no user; for example \(example)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw StoreError.unusable("the store URL '\(Self.redacted(text))' names no database; for example \(example)")
        }
        var tls = TLSMode.disable
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let value = item.value, let mode = TLSMode(rawValue: value) else {
                    throw StoreError.unusable(
                        "sslmode '\(item.value ?? "")' in the store URL is not one of \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tls = mode
            default:
                throw StoreError.unusable("the store URL has an unknown parameter '\(item.name)'; only sslmode is read")
            }
        }
        var password = components.password
        if let passwordFile {
            do {
                let contents = try String(contentsOf: passwordFile, encoding: .utf8)
                password = String(contents.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            } catch {
                throw StoreError.unusable("cannot read the database password file \(passwordFile.path): \(error.localizedDescription)")
            }
        }
        self.init(
            host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: components.port ?? 5432,
            user: user, password: password, database: database, tls: tls)
    }

    /// The URL without its password, for messages and logs.
    public var description: String {
        let host = self.host.contains(":") ? "[\(self.host)]" : self.host
        return "postgres://\(user)@\(host):\(port)/\(database)" + (tls == .disable ? "" : "?sslmode=\(tls.rawValue)")
    }

    /// `text` with any password replaced, for an error message about a URL that did not parse.
    static func redacted(_ text: String) -> String {
        if var components = URLComponents(string: text) {
            guard components.password != nil else { return text }
            components.password = "…"
            return components.string ?? "(the URL)"
        }
        // Not a URL at all (a password with a space or '#', say): hide whatever stands between
        // the scheme and the last '@', where a user and a password would be.
        guard let scheme = text.range(of: "://"), let at = text.range(of: "@", options: .backwards), scheme.upperBound <= at.lowerBound
        else { return text }
        return String(text[..<scheme.upperBound]) + "…" + String(text[at.lowerBound...])
    }

    /// Limits the server enforces on qpilot's sessions, so that no statement, lock wait or idle
    /// transaction (of a replica cut off in the middle of one) holds others up for long; shorter
    /// than `PostgresStateStore.operationLimit`, so a caller gets PostgreSQL's reason.
    static let sessionLimits = [
        ("statement_timeout", "8s"), ("lock_timeout", "5s"), ("idle_in_transaction_session_timeout", "30s"),
    ]

    /// How long opening one connection may take.
    static let connectTimeout = Duration.seconds(5)

    var tlsConfiguration: TLSConfiguration? {
        switch tls {
        case .disable:
            return nil
        case .require:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            return configuration
        case .verifyFull:
            return .makeClientConfiguration()
        }
    }

    /// The pool's configuration.
    func clientConfiguration() throws -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: password, database: database,
            tls: tlsConfiguration.map { .require($0) } ?? .disable)
        configuration.options.connectTimeout = Self.connectTimeout
        configuration.options.maximumConnections = 8
        configuration.options.additionalStartupParameters = Self.sessionLimits
        return configuration
    }

    /// One connection's configuration, for the check at open.
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: user, password: password, database: database,
            tls: try tlsConfiguration.map { .require(try NIOSSLContext(configuration: $0)) } ?? .disable)
        configuration.options.connectTimeout = .seconds(Self.connectTimeout.components.seconds)
        return configuration
    }
}
