import Foundation

/// `GET /v1/tls`: what is intercepted, per fleet, and the certificates qpilot has minted for it.
/// Certificates are named and dated here; their keys never leave qpilot's memory.
public struct InterceptionView: Codable, Sendable, Equatable {
    /// The intercepted hosts of one fleet's config. `fleet` is `*` for every fleet that has no
    /// config of its own.
    public struct FleetHosts: Codable, Sendable, Equatable {
        public var fleet: String
        public var hosts: [String]

        public init(fleet: String, hosts: [String]) {
            self.fleet = fleet
            self.hosts = hosts
        }
    }

    /// One minted leaf: the name it is for, the fleets whose nodes asked for it, and its dates.
    public struct Certificate: Codable, Sendable, Equatable {
        public var name: String
        public var fleets: [String]
        public var issued: Date
        public var expires: Date

        public init(name: String, fleets: [String], issued: Date, expires: Date) {
            self.name = name
            self.fleets = fleets
            self.issued = issued
            self.expires = expires
        }
    }

    public var fleets: [FleetHosts]
    /// The hosts whose plain HTTP each fleet's Envoys send on as HTTPS (`tls.originate`).
    public var originated: [FleetHosts]
    public var certificates: [Certificate]
    /// Certificates minted since qpilot started (re-issues included).
    public var mintedSinceStart: Int
    /// How long a minted certificate is valid; it is re-issued after two thirds.
    public var leafLifetimeSeconds: Int
    /// The roots Envoy verifies origins against: `system` (Envoy's system bundle) or
    /// `upstreamCA` (tls.upstreamCA and qpilot's system bundle).
    public var originRoots: String

    public init(
        fleets: [FleetHosts], originated: [FleetHosts] = [], certificates: [Certificate], mintedSinceStart: Int,
        leafLifetimeSeconds: Int, originRoots: String
    ) {
        self.fleets = fleets
        self.originated = originated
        self.certificates = certificates
        self.mintedSinceStart = mintedSinceStart
        self.leafLifetimeSeconds = leafLifetimeSeconds
        self.originRoots = originRoots
    }
}

/// One intercepted host as the store keeps it (store mode): `qctl tls intercept add`.
public struct InterceptEntry: Codable, Sendable, Equatable {
    public var host: String
    /// nil: every fleet.
    public var fleets: [String]?
    public var updatedAt: Date
    public var updatedBy: String

    public init(host: String, fleets: [String]?, updatedAt: Date, updatedBy: String) {
        self.host = host
        self.fleets = fleets
        self.updatedAt = updatedAt
        self.updatedBy = updatedBy
    }
}

/// `GET /v1/tls/intercept`: the intercepted hosts and where they come from. In `file` mode
/// qpilot.yaml's `tls.intercept` is the list (edit the file); in `store` mode the admin API is.
public struct InterceptList: Codable, Sendable, Equatable {
    public var mode: ChainMode
    public var entries: [InterceptEntry]

    public init(mode: ChainMode, entries: [InterceptEntry]) {
        self.mode = mode
        self.entries = entries
    }
}

/// The body of `PUT /v1/tls/intercept/{host}`: the fleets, or none for every fleet.
public struct InterceptWrite: Codable, Sendable, Equatable {
    public var fleets: [String]?

    public init(fleets: [String]? = nil) { self.fleets = fleets }
}
