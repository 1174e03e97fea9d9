import Foundation

/// Credentials for OCI registries: from a docker `config.json` (`auths.<host>.auth` = base64 of
/// `user:password`, or `username`/`password`), or given directly.
public struct RegistryCredentials: Sendable, Equatable {
    public struct Login: Sendable, Equatable {
        public var username: String
        public var password: String
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    /// Logins by registry host (`host` or `host:port`).
    public var logins: [String: Login]

    public init(logins: [String: Login] = [:]) { self.logins = logins }

    /// Reads a docker `config.json`.
    public static func dockerConfig(at url: URL) throws(ModuleError) -> RegistryCredentials {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ModuleError("cannot read the registry credentials file \(url.path)")
        }
        struct Config: Decodable {
            struct Auth: Decodable {
                var auth: String?
                var username: String?
                var password: String?
            }
            var auths: [String: Auth]?
        }
        let config: Config
        do {
            config = try JSONDecoder().decode(Config.self, from: data)
        } catch {
            throw ModuleError("\(url.path) is not a docker config.json: \(error)")
        }
        var logins: [String: Login] = [:]
        for (key, auth) in config.auths ?? [:] {
            let host = Self.host(of: key)
            if let encoded = auth.auth, let decoded = Data(base64Encoded: encoded), let text = String(data: decoded, encoding: .utf8),
                let colon = text.firstIndex(of: ":")
            {
                logins[host] = Login(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
            } else if let username = auth.username, let password = auth.password {
                logins[host] = Login(username: username, password: password)
            }
        }
        return RegistryCredentials(logins: logins)
    }

    /// `https://index.docker.io/v1/` and `host:port` both name a host.
    static func host(of key: String) -> String {
        var text = key
        for prefix in ["https://", "http://"] where text.hasPrefix(prefix) { text = String(text.dropFirst(prefix.count)) }
        return String(text.split(separator: "/").first ?? Substring(text))
    }

    func login(for registry: String) -> Login? { logins[registry] }
}
