import Crypto
import EnvoyAPI
import Foundation
import Logging
import Metrics
import PKI
import QpilotAPI
import ServiceLifecycle
import Synchronization
import XDS

/// The certificates of intercepted names, as SDS `Secret` resources.
///
/// Envoy asks for a certificate named after a client's SNI during the TLS handshake (the
/// on-demand selector of `qpilot_tls`). A leaf is minted from qpilot's CA only for a name the
/// node's fleet intercepts (`Snapshot.secretNames`, the list its listener admits); anything else
/// is answered with no resource and logged once. Leaves live in memory only: their keys never reach
/// the store, the logs, the metrics or the admin API. `renew` re-issues each leaf once two thirds
/// of its life are gone, so a new handshake always gets a valid certificate while connections
/// already open keep theirs; a name no longer intercepted keeps its leaf until it expires and is
/// then dropped.
public final class LeafCertificates: OnDemandResources {
    /// The most leaves held at once. A wildcard lets clients choose names; this bounds the memory
    /// they can make qpilot spend.
    public static let maxLeaves = 10_000

    struct Leaf {
        let resource: Resource
        let notAfter: Date
        let issued: Date
    }

    private struct State {
        var leaves: [String: Leaf] = [:]
        /// fleet + name pairs already logged as refused.
        var refused: Set<String> = []
        var minted = 0
        /// Fleets with a `qpilot_fleet_certificates` series.
        var fleetsRecorded: Set<String> = []
    }

    private let authority: CertificateAuthority
    private let cache: SnapshotCache
    private let versionKey: SymmetricKey?
    private let logger: Logger
    private let state = Mutex(State())
    /// How long a leaf is valid.
    public let lifetime: TimeInterval
    private let now: @Sendable () -> Date

    /// qpilot's own server names (with `xds.tls`): no leaf is minted whose name covers one.
    let reservedNames: [String]

    public init(
        authority: CertificateAuthority, cache: SnapshotCache, lifetime: TimeInterval, versionKey: SymmetricKey?, logger: Logger,
        reservedNames: [String] = [], now: @escaping @Sendable () -> Date = Date.init
    ) {
        self.reservedNames = reservedNames.map { $0.lowercased() }
        self.authority = authority
        self.cache = cache
        self.lifetime = lifetime
        self.versionKey = versionKey
        self.logger = logger
        self.now = now
    }

    public func requested(_ names: Set<String>, of type: ResourceType, fleet: String) -> Bool {
        guard type == .secret, let snapshot = cache.snapshot(for: fleet) else { return false }
        var resources: [Resource] = []
        for name in names.sorted() {
            guard snapshot.allowsSecret(name) else {
                refuse(name, fleet: fleet)
                continue
            }
            if let own = reservedNames.first(where: { (try? HostPattern(parsing: name))?.matches($0) ?? false }) {
                // The same CA signs qpilot's server certificate: a leaf whose key Envoy holds must
                // never be one that also passes for qpilot.
                refuse(name, fleet: fleet, because: "it would also cover qpilot's own server name \(own); intercept narrower names")
                continue
            }
            if let leaf = leaf(for: name) { resources.append(leaf.resource) }
        }
        guard !resources.isEmpty else { return false }
        cache.addOnDemand(resources, of: .secret, fleet: fleet)
        recordGauges()
        return true
    }

    /// Re-issues every leaf past two thirds of its life that some fleet still intercepts, and
    /// drops the expired leaves of names no fleet intercepts any more. Returns the names re-issued.
    @discardableResult
    public func renew() -> [String] {
        let time = now()
        let held = cache.onDemand(of: .secret)
        var fresh: [String: Leaf] = [:]
        for (fleet, resources) in held.sorted(by: { $0.key < $1.key }) {
            let snapshot = cache.snapshot(for: fleet)
            var replaced: [Resource] = []
            var dropped: Set<String> = []
            for name in resources.keys.sorted() {
                let current = state.withLock { $0.leaves[name] }
                if snapshot?.allowsSecret(name) == true {
                    guard current.map({ $0.notAfter.timeIntervalSince(time) < lifetime / 3 }) ?? true else { continue }
                    if fresh[name] == nil, let leaf = mint(name, replacing: true) { fresh[name] = leaf }
                    if let leaf = fresh[name] { replaced.append(leaf.resource) }
                } else if current.map({ $0.notAfter <= time }) ?? true {
                    dropped.insert(name)
                }
            }
            if !replaced.isEmpty { cache.addOnDemand(replaced, of: .secret, fleet: fleet) }
            if !dropped.isEmpty {
                cache.removeOnDemand(dropped, of: .secret, fleet: fleet)
                logger.info(
                    "dropped expired certificates of names no longer intercepted",
                    metadata: ["fleet": "\(fleet)", "names": "\(dropped.sorted().joined(separator: ","))"])
            }
        }
        let stillHeld = Set(cache.onDemand(of: .secret).values.flatMap(\.keys))
        state.withLock { state in state.leaves = state.leaves.filter { stillHeld.contains($0.key) || $0.value.notAfter > time } }
        recordGauges()
        return fresh.keys.sorted()
    }

    /// What `qctl status` and `/metrics` show: each name with a certificate, and its expiry.
    public struct Minted: Sendable, Equatable {
        public let name: String
        public let notAfter: Date
        public let issued: Date
    }

    public var minted: [Minted] {
        state.withLock { state in
            state.leaves.map { Minted(name: $0.key, notAfter: $0.value.notAfter, issued: $0.value.issued) }.sorted { $0.name < $1.name }
        }
    }

    /// Certificates minted since start.
    public var mintedCount: Int { state.withLock { $0.minted } }

    private func leaf(for name: String) -> Leaf? {
        if let current = state.withLock({ $0.leaves[name] }), current.notAfter.timeIntervalSince(now()) >= lifetime / 3 {
            return current
        }
        return mint(name, replacing: false)
    }

    private func mint(_ name: String, replacing: Bool) -> Leaf? {
        let full = state.withLock { $0.leaves[name] == nil && $0.leaves.count >= Self.maxLeaves }
        guard !full else {
            logger.warning(
                "not minting a certificate: qpilot holds the most it keeps; narrow a wildcard in tls.intercept",
                metadata: ["name": "\(name)", "held": "\(Self.maxLeaves)"])
            return nil
        }
        let time = now()
        do {
            let issued = try authority.issue(for: name, lifetime: lifetime, now: time)
            var certificate = Envoy_Config_Core_V3_DataSource()
            certificate.inlineString = issued.certificatePEM
            var key = Envoy_Config_Core_V3_DataSource()
            key.inlineString = issued.privateKeyPEM
            var tls = Envoy_Extensions_TransportSockets_Tls_V3_TlsCertificate()
            tls.certificateChain = certificate
            tls.privateKey = key
            var secret = Envoy_Extensions_TransportSockets_Tls_V3_Secret()
            secret.name = name
            secret.tlsCertificate = tls
            let leaf = Leaf(
                resource: try Resource(name: name, typeURL: ResourceType.secret.typeURL, message: secret, versionKey: versionKey),
                notAfter: issued.notValidAfter, issued: time)
            state.withLock { state in
                state.leaves[name] = leaf
                state.minted += 1
            }
            Counter(label: "qpilot_certificates_minted_total").increment()
            recordGauges()
            logger.info(
                replacing ? "re-issued a certificate before it expires" : "minted a certificate",
                metadata: ["name": "\(name)", "expires": "\(issued.notValidAfter)"])
            return leaf
        } catch {
            logger.error("cannot mint a certificate", metadata: ["name": "\(name)", "error": "\(error)"])
            return nil
        }
    }

    /// `qpilot_certificates_held` and the soonest expiry among them, for alerts: renewal runs at
    /// two thirds of the life, so an expiry this close means renewal stopped.
    private func recordGauges() {
        let (count, soonest) = state.withLock { state in (state.leaves.count, state.leaves.values.map(\.notAfter).min()) }
        Gauge(label: "qpilot_certificates_held").record(count)
        if let soonest { Gauge(label: "qpilot_certificate_next_expiry_timestamp_seconds").record(soonest.timeIntervalSince1970) }
        // Per fleet: the certificates its nodes asked for (0 once a fleet holds none).
        let byFleet = cache.onDemand(of: .secret).mapValues(\.count)
        let gone = state.withLock { state in
            defer { state.fleetsRecorded = Set(byFleet.keys) }
            return state.fleetsRecorded.subtracting(byFleet.keys)
        }
        for fleet in gone { Gauge(label: "qpilot_fleet_certificates", dimensions: [("fleet", fleet)]).record(0) }
        for (fleet, count) in byFleet { Gauge(label: "qpilot_fleet_certificates", dimensions: [("fleet", fleet)]).record(count) }
    }

    private func refuse(_ name: String, fleet: String, because reason: String = "its fleet does not intercept it") {
        let first = state.withLock { state in
            guard state.refused.count < Self.maxLeaves else { return false }
            return state.refused.insert(fleet + "\u{0}" + name).inserted
        }
        // Once per fleet and name: a SotW client repeats its whole subscription at every ACK.
        if first {
            Counter(label: "qpilot_certificates_refused_total").increment()
            logger.notice(
                "a node asked for a certificate that qpilot does not mint",
                metadata: ["fleet": "\(fleet)", "name": "\(name)", "reason": "\(reason)"])
        }
    }
}

/// Runs `work` every `interval` until a graceful shutdown: the renewal of certificates, leaves
/// (every tenth of their life, so none is served in its last third) and qpilot's own (every
/// twentieth).
struct RenewalService: Service {
    let interval: Duration
    let work: @Sendable () -> Void

    init(every seconds: TimeInterval, _ work: @escaping @Sendable () -> Void) {
        interval = .milliseconds(Int64(max(1, seconds) * 1000))
        self.work = work
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { break }
                work()
            }
        }
    }
}
