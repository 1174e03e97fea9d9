import Foundation

/// The settings qpilot reads once, at start: its ports, its data directory, the limits of its
/// module fetcher. A reload that changes one logs a warning and keeps the running value; the
/// fields of this type are exactly that list. Paths are resolved against qpilot.yaml's folder.
public struct ServerSettings: Sendable, Equatable {
    public struct XDS: Sendable, Equatable {
        public var address = HostPort(host: "127.0.0.1", port: 18000)
        /// Largest ADS message qpilot accepts from Envoy, in bytes.
        public var maxReceiveBytes = 4 * 1024 * 1024
        /// `xds.tls`, when qpilot.yaml sets it; see `tlsEnabled`.
        public var tls: Bool?
        /// The DNS names and IP addresses qpilot's server certificate holds (`xds.serverNames`);
        /// empty: see `serverCertificateNames`.
        public var serverNames: [String] = []
        /// How long the certificates qpilot issues for xDS are valid: each node's client
        /// certificate and qpilot's own server certificate (renewed after two thirds).
        public var certificateLifetimeSeconds = 24 * 3600

        /// TLS on the xDS and module ports, with client certificates on xDS: as `xds.tls` says,
        /// else on unless the xDS address is loopback (only local processes reach it then).
        public var tlsEnabled: Bool { tls ?? !address.isLoopback }
    }

    public struct Admin: Sendable, Equatable {
        public var address = HostPort(host: "127.0.0.1", port: 18001)
        /// `admin.tokensFile`, when qpilot.yaml names one; see `ServerSettings.tokensFile`.
        public var tokensFile: URL?
    }

    public struct Modules: Sendable, Equatable {
        public var address = HostPort(host: "127.0.0.1", port: 18002)
        /// Where Envoy reaches the module endpoint, when not at `address`.
        public var publicAddress: HostPort?
        /// The directory shared with Envoy for `delivery: file`.
        public var sharedDir: URL?
        /// A docker `config.json` with registry logins.
        public var credentialsFile: URL?
        public var maxModuleBytes = 256 * 1024 * 1024
        /// The largest module delivered `inline` when neither the middleware nor the file says
        /// how; a larger one is delivered `remote`, so that it is not in every xDS message.
        public var inlineMaxBytes = 1024 * 1024
        public var maxDecompressedBytes = 512 * 1024 * 1024
        public var fetchTimeoutSeconds = 60
        /// How often sources with `pullPolicy: Always` are fetched again.
        public var refreshSeconds = 60
        /// Hosts and IP blocks that module fetches may reach although they are private.
        public var allowPrivate: [String] = []
        /// Directories that file sources sent through the admin API must lie in (resolved).
        public var sourceDirs: [URL] = []

        /// Where Envoy fetches modules delivered `remote`.
        public var endpointForEnvoy: HostPort { publicAddress ?? address }
    }

    /// qpilot's certificate authority: an operator's (both files), or the one qpilot makes in
    /// `<dataDir>/ca/`.
    public struct TLS: Sendable, Equatable {
        public var caCertFile: URL?
        public var caKeyFile: URL?
        /// How long a minted certificate of an intercepted name is valid; re-issued after two thirds.
        public var leafLifetimeSeconds = 24 * 3600
    }

    /// `store`: a PostgreSQL database shared by several qpilot replicas. Without it, the state is
    /// in SQLite in `dataDir` (one qpilot).
    public struct Store: Sendable, Equatable {
        /// `postgres://USER@HOST:PORT/DATABASE?sslmode=…`, checked when qpilot.yaml is read.
        public var url: String
        /// A file whose first line is the database password.
        public var passwordFile: URL?

        public init(url: String, passwordFile: URL? = nil) {
            self.url = url
            self.passwordFile = passwordFile
        }
    }

    public var xds = XDS()
    public var admin = Admin()
    public var modules = Modules()
    public var tls = TLS()
    /// The store (SQLite, unless `store` names PostgreSQL), the module store and the secrets key.
    public var dataDir: URL
    public var store: Store?

    /// Defaults for a qpilot.yaml in `directory`.
    public init(directory: URL) {
        dataDir = Paths.resolve("./data", in: directory)
    }

    /// The names in qpilot's server certificate: `xds.serverNames`, else `localhost`, the
    /// loopback addresses, this machine's host name and any specific address qpilot listens on.
    public var serverCertificateNames: [String] {
        if !xds.serverNames.isEmpty { return xds.serverNames }
        var names = ["localhost", "127.0.0.1", "::1"]
        let host = ProcessInfo.processInfo.hostName
        if !host.isEmpty { names.append(host) }
        for address in [xds.address, modules.address] + [modules.publicAddress].compactMap({ $0 })
        where !["0.0.0.0", "::"].contains(address.host) {
            names.append(address.host)
        }
        var seen = Set<String>()
        return names.filter { seen.insert($0).inserted }
    }

    /// Where nodes reach the module port to enrol: `modules.publicAddress`, else its address,
    /// with a wildcard address replaced by this machine's host name.
    public var enrolAddress: HostPort {
        var address = modules.endpointForEnvoy
        if ["0.0.0.0", "::"].contains(address.host) {
            let name = ProcessInfo.processInfo.hostName
            address.host = name.isEmpty ? "localhost" : name
        }
        return address
    }

    /// `TOKEN ROLE` lines for the admin API; created with one admin token when absent:
    /// `admin.tokensFile`, else `<dataDir>/admin-tokens`.
    public var tokensFile: URL { admin.tokensFile ?? dataDir.appendingPathComponent("admin-tokens") }

    /// The settings that differ from `running`, by their qpilot.yaml names (`xds.address`, …).
    /// Read from the type itself, so a setting added later is compared without anyone listing it.
    public func changed(from running: ServerSettings) -> [String] {
        Self.differences(Mirror(reflecting: self), Mirror(reflecting: running), prefix: "")
    }

    private static func differences(_ new: Mirror, _ old: Mirror, prefix: String) -> [String] {
        zip(new.children, old.children).flatMap { pair -> [String] in
            let (left, right) = pair
            let name = prefix + (left.label ?? "")
            let leftChild = Mirror(reflecting: left.value)
            if leftChild.displayStyle == .struct, !(left.value is HostPort), !(left.value is URL) {
                return differences(leftChild, Mirror(reflecting: right.value), prefix: name + ".")
            }
            return comparable(left.value) == comparable(right.value) ? [] : [name]
        }
    }

    /// A value as text to compare: a path for a URL (Foundation may add a trailing slash once the
    /// directory exists), the wrapped value for an optional.
    private static func comparable(_ value: Any) -> String {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional { return mirror.children.first.map { comparable($0.value) } ?? "nil" }
        if let url = value as? URL { return url.standardizedFileURL.path }
        return "\(value)"
    }
}

/// Paths in qpilot.yaml are relative to the file's own folder.
public enum Paths {
    public static func resolve(_ path: String, in directory: URL) -> URL {
        path.hasPrefix("/")
            ? URL(fileURLWithPath: path).standardizedFileURL
            : directory.appendingPathComponent(path).standardizedFileURL
    }
}
