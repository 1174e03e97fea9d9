import Foundation
import QpilotAPI

/// What the operator wants, independent of where it came from (qpilot.yaml, or later the store).
public struct DesiredState: Sendable, Equatable {
    /// The egress listener Envoy opens for applications.
    public var egress: Egress
    /// The internal listener that carries middleware HTTP callouts.
    public var callout: Callout
    /// Where Envoy fetches modules delivered `remote`.
    public var moduleEndpoint: ModuleEndpoint
    /// Middleware, in any order; the translator orders them.
    public var middleware: [Middleware]
    /// HTTPS interception.
    public var tls: TLS

    public init(egress: Egress, callout: Callout, moduleEndpoint: ModuleEndpoint, middleware: [Middleware], tls: TLS = TLS()) {
        self.egress = egress
        self.callout = callout
        self.moduleEndpoint = moduleEndpoint
        self.middleware = middleware
        self.tls = tls
    }

    /// Which HTTPS hosts Envoy terminates with a certificate from qpilot's CA, so that the middleware
    /// see the requests inside, and how it verifies the real origins.
    public struct TLS: Sendable, Equatable {
        public var intercept: [Intercept]
        /// Hosts whose plain-HTTP requests leave Envoy as verified HTTPS (TLS origination), so
        /// apps pointed at `http://` URLs need no CA. Same form as `intercept`.
        public var originate: [Intercept]
        /// The certificate authorities Envoy trusts for origins, PEM; nil for Envoy's system
        /// bundle (`systemBundle`, read on Envoy's machine).
        public var upstreamCA: String?

        public init(intercept: [Intercept] = [], originate: [Intercept] = [], upstreamCA: String? = nil) {
            self.intercept = intercept
            self.originate = originate
            self.upstreamCA = upstreamCA
        }

        /// Envoy's system bundle on Debian and Ubuntu; the file Envoy reads when no upstreamCA is set.
        public static let systemBundle = "/etc/ssl/certs/ca-certificates.crt"

        /// The hosts intercepted for the nodes of `fleet`, sorted and without repeats.
        public func patterns(for fleet: FleetKey) -> [HostPattern] {
            Self.patterns(intercept, for: fleet)
        }

        /// The hosts whose plain HTTP is sent on as HTTPS for the nodes of `fleet`.
        public func originated(for fleet: FleetKey) -> [HostPattern] {
            Self.patterns(originate, for: fleet)
        }

        static func patterns(_ entries: [Intercept], for fleet: FleetKey) -> [HostPattern] {
            Array(Set(entries.filter { $0.applies(to: fleet) }.map(\.host))).sorted()
        }
    }

    /// One intercepted host, for every fleet or for some.
    public struct Intercept: Sendable, Equatable {
        public var host: HostPattern
        /// nil means every fleet.
        public var fleets: [String]?

        public init(host: HostPattern, fleets: [String]? = nil) {
            self.host = host
            self.fleets = fleets
        }

        public func applies(to fleet: FleetKey) -> Bool {
            guard let fleets else { return true }
            guard let name = fleet.name else { return false }
            return fleets.contains(name)
        }
    }

    /// The egress listener's settings.
    public struct Egress: Sendable, Equatable {
        public var address: String
        public var port: Int
        /// A file path for the access log, or nil for none.
        public var accessLog: String?
        /// Internal destinations (loopback, link-local, metadata) that requests may reach all the
        /// same; every other internal destination gets 403.
        public var allowInternal: [InternalDestination]
        public init(address: String, port: Int, accessLog: String? = nil, allowInternal: [InternalDestination] = []) {
            self.address = address
            self.port = port
            self.accessLog = accessLog
            self.allowInternal = allowInternal
        }
    }

    /// The callout listener's settings.
    public struct Callout: Sendable, Equatable {
        /// A file path for the callout access log, or nil for none.
        public var accessLog: String?
        public init(accessLog: String? = "/dev/stdout") { self.accessLog = accessLog }
    }

    /// qpilot's module HTTP endpoint as Envoy reaches it.
    public struct ModuleEndpoint: Sendable, Equatable {
        public var host: String
        public var port: Int
        /// qpilot's CA (PEM) when the module endpoint speaks HTTPS (`xds.tls`): Envoy fetches
        /// modules over TLS and trusts only this CA. Nil: plain HTTP.
        public var ca: String?
        public init(host: String, port: Int, ca: String? = nil) {
            self.host = host
            self.port = port
            self.ca = ca
        }
    }

    /// Every fleet key that gets a config of its own: each fleet that some middleware or some
    /// intercepted host names, and every other fleet.
    public var fleetKeys: [FleetKey] {
        Set(middleware.flatMap { $0.fleets ?? [] } + (tls.intercept + tls.originate).flatMap { $0.fleets ?? [] }).sorted()
            .map(FleetKey.named)
            + [.everyOther]
    }
}

/// One Proxy-Wasm middleware, with its module already loaded and hashed.
public struct Middleware: Sendable, Equatable {
    /// How Envoy gets the module's bytes.
    public enum Delivery: Sendable, Equatable {
        /// In the ECDS resource itself; Envoy builds the VM while applying it, so a bad module NACKs.
        case inline(Data)
        /// From a file that qpilot wrote into a directory shared with Envoy.
        case file(path: String)
        /// Fetched by Envoy over HTTP from qpilot's module endpoint. Envoy ACKs before the module
        /// loads, so a failing module is not reported.
        case remote
    }

    public var name: String
    /// Hex sha256 of the module's bytes.
    public var sha256: String
    public var delivery: Delivery
    /// JSON handed to the module as its plugin configuration.
    public var configuration: String
    public var failurePolicy: FailurePolicy
    public var phase: Phase?
    public var priority: Int
    /// The fleets this middleware applies to; nil means every fleet.
    public var fleets: [String]?

    public init(
        name: String, sha256: String, delivery: Delivery, configuration: String = "",
        failurePolicy: FailurePolicy = .closed, phase: Phase? = nil, priority: Int = 0, fleets: [String]? = nil
    ) {
        self.name = name
        self.sha256 = sha256
        self.delivery = delivery
        self.configuration = configuration
        self.failurePolicy = failurePolicy
        self.phase = phase
        self.priority = priority
        self.fleets = fleets
    }

    /// True when this middleware applies to the nodes of `fleet`.
    public func applies(to fleet: FleetKey) -> Bool {
        guard let fleets else { return true }
        guard let name = fleet.name else { return false }
        return fleets.contains(name)
    }
}
