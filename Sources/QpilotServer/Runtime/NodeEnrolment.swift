import AdminServer
import Crypto
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Metrics
import PKI
import QpilotAPI
import Store
import SwiftASN1
import Synchronization
import X509
import XDS

/// Who may get config (issue 12): join tokens, the client certificates qpilot's CA issues for them
/// (URI SAN `spiffe://qpilot/fleet/F/node/N`), renewal, revocation, and the check on every ADS
/// stream that the node it names is the one its certificate names.
///
/// Tokens are `qpt.<id>.<secret>`: the store keeps the id and the SHA-256 of the secret (32
/// random bytes, so a fast hash is enough), and a token is spent by its first use.
public final class NodeEnrolment: Sendable {
    let authority: CertificateAuthority
    let store: any StateStore
    /// How long a node certificate is valid.
    let lifetime: TimeInterval
    let logger: Logger
    /// Where nodes enrol, told with each token.
    let enrolURL: String
    /// Per enrolled node: whether it is revoked, and the serials of the certificates it may use
    /// (issued since its latest enrolment, not expired). Read on every stream, so kept in
    /// memory; the store holds it across restarts, and each change is read back from it.
    private let standing: Mutex<[String: Standing]>

    typealias Standing = (revoked: Bool, serials: Set<String>)
    /// Set once the xDS server exists: ends a revoked node's open streams.
    private let endStreams = Mutex<(@Sendable (String) -> Int)?>(nil)

    public static let defaultTokenLifetime = 3600
    public static let maxTokenLifetime = 7 * 24 * 3600

    public init(
        authority: CertificateAuthority, store: any StateStore, lifetime: TimeInterval, enrolURL: String, logger: Logger
    ) async throws {
        self.enrolURL = enrolURL
        self.authority = authority
        self.store = store
        self.lifetime = lifetime
        self.logger = logger
        standing = Mutex(try await store.allCertificates(now: Date()))
    }

    /// Reads a node's standing back from the store after a change, so memory follows what was
    /// committed (the store decides when an enrolment and a revocation race).
    private func refresh(_ node: String) async {
        guard let current = try? await store.certificates(of: node, now: Date()) else {
            // Unreadable: keep what is known, but a revocation in flight must not be lost.
            return
        }
        standing.withLock { $0[node] = current }
    }

    /// Why a certificate of `node` with `serial` may not be used now, or nil when it may.
    func refusal(of node: String, serial: String) -> (reason: String, message: String)? {
        guard let current = standing.withLock({ $0[node] }) else {
            return ("retired", "node \(node) holds no certificate in qpilot's store; enrol it again with a token made for it: qctl node token create --node \(node) --fleet FLEET")
        }
        if current.revoked {
            return ("revoked", "node \(node) was revoked; it can come back only with a token made for it: qctl node token create --node \(node) --fleet FLEET")
        }
        guard current.serials.contains(serial) else {
            return ("retired", "this certificate of node \(node) was replaced by a later enrolment (or expired); use the node's current certificate")
        }
        return nil
    }

    func onRevoke(_ end: @escaping @Sendable (String) -> Int) {
        endStreams.withLock { $0 = end }
    }

    // MARK: Tokens

    /// Makes a join token; the answer carries the whole token, the only time it is shown.
    public func createToken(_ request: TokenRequest, author: String, now: Date = Date()) async throws(AdminError) -> TokenView {
        try Self.checkName(request.fleet, field: "fleet")
        if let node = request.nodeID { try Self.checkName(node, field: "nodeID") }
        let ttl = request.ttlSeconds ?? Self.defaultTokenLifetime
        guard (1...Self.maxTokenLifetime).contains(ttl) else {
            throw AdminError.invalid("ttlSeconds is between 1 and \(Self.maxTokenLifetime) (7 days); got \(ttl)")
        }
        let id = Self.randomHex(8)
        let secret = Self.base64URL(Self.randomBytes(32))
        let record = EnrolmentToken(
            id: id, fleet: request.fleet, node: request.nodeID, createdAt: now, createdBy: author,
            expiresAt: now.addingTimeInterval(TimeInterval(ttl)))
        do {
            try await store.createToken(record, secretHash: Self.hash(secret))
        } catch {
            throw AdminError.store("cannot store the token: \(error)")
        }
        logger.notice(
            "join token created",
            metadata: ["token": "\(id)", "fleet": "\(request.fleet)", "node": "\(request.nodeID ?? "any")", "by": "\(author)"])
        var view = view(record)
        view.token = "qpt.\(id).\(secret)"
        return view
    }

    public func tokens() async throws(AdminError) -> TokenList {
        do {
            return TokenList(tokens: try await store.tokens().map(view))
        } catch {
            throw AdminError.store("cannot read tokens: \(error)")
        }
    }

    private func view(_ token: EnrolmentToken) -> TokenView {
        TokenView(
            id: token.id, fleet: token.fleet, nodeID: token.node, created: token.createdAt, createdBy: token.createdBy,
            expires: token.expiresAt, token: nil, caSHA256: authority.fingerprint, enrolURL: enrolURL)
    }

    // MARK: Enrolment and renewal

    /// Why an enrolment or renewal was refused: an HTTP status and a message that says what to do.
    public struct Refusal: Error, Sendable {
        public var status: Int
        public var message: String
    }

    /// Trades a join token and a certificate request for a client certificate.
    public func enrol(_ request: EnrolRequest, now: Date = Date()) async throws(Refusal) -> (certificate: Certificate, fleet: String) {
        let invalid = { (message: String) in Refusal(status: 400, message: message) }
        guard (try? Self.checkName(request.nodeID, field: "nodeID")) != nil else {
            throw invalid("nodeID must be 1 to 256 printable ASCII characters, no spaces or quotes")
        }
        let parts = request.token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "qpt", !parts[1].isEmpty, !parts[2].isEmpty, request.token.count < 200 else {
            throw Self.refused("malformed", "not a join token (they look like qpt.ID.SECRET); create one with `qctl node token create`")
        }
        // Checked before the token is spent: a bad request does not use it up.
        let csr = try Self.parseRequest(request.csr)
        let outcome: TokenRedemption
        do {
            outcome = try await store.redeemToken(
                id: String(parts[1]), secretHash: Self.hash(String(parts[2])), node: request.nodeID, now: now)
        } catch {
            throw Refusal(status: 503, message: "the store cannot be used now (\(error)); retry")
        }
        let fleet: String
        switch outcome {
        case .accepted(let tokenFleet):
            fleet = tokenFleet
        case .unknown:
            throw Self.refused("unknown", "unknown join token: check it was copied whole, or create one with `qctl node token create`")
        case .used(let at, let by):
            throw Self.refused(
                "used", "this join token was already used (by node \(by) at \(Self.format(at))); a token works once: create a new one")
        case .expired(let at):
            throw Self.refused("expired", "this join token expired at \(Self.format(at)); create a new one with `qctl node token create`")
        case .otherNode(let node):
            throw Self.refused("other-node", "this join token is for node \(node), not \(request.nodeID)")
        case .needsNodeToken:
            throw Self.refused(
                "enrolled-before",
                "node \(request.nodeID) enrolled before (it may be revoked); only a token made for it can enrol it again: qctl node token create --node \(request.nodeID) --fleet FLEET")
        }
        let identity = NodeIdentity(fleet: fleet, node: request.nodeID)
        let certificate = try issue(csr, identity, renewal: false, now: now)
        try await record(certificate, identity, renewal: false, now: now)
        await refresh(identity.node)
        logger.notice("node enrolled", metadata: ["node": "\(identity.node)", "fleet": "\(fleet)", "expires": "\(certificate.notValidAfter)"])
        return (certificate, fleet)
    }

    /// Issues a new certificate to a node that proves it holds a valid, unrevoked one: the
    /// request must be signed by the key of `request.certificate`.
    public func renew(_ request: RenewRequest, now: Date = Date()) async throws(Refusal) -> (certificate: Certificate, fleet: String) {
        let current: Certificate
        do {
            current = try Certificate(pemEncoded: request.certificate)
        } catch {
            throw Refusal(status: 400, message: "certificate is not a PEM certificate (\(error))")
        }
        let csr = try Self.parseRequest(request.csr)
        let identity: NodeIdentity
        do {
            identity = try authority.verifyNode(current, now: now)
        } catch {
            throw Self.refused("invalid-certificate", "\(error.description); enrol again with a new join token")
        }
        guard csr.publicKey == current.publicKey else {
            throw Self.refused("other-key", "the certificate request must be signed with the key of the current certificate")
        }
        if let refusal = refusal(of: identity.node, serial: "\(current.serialNumber)") {
            throw Self.refused(refusal.reason, refusal.message)
        }
        let certificate = try issue(csr, identity, renewal: true, now: now)
        try await record(certificate, identity, renewal: true, now: now)
        await refresh(identity.node)
        logger.info("node certificate renewed", metadata: ["node": "\(identity.node)", "expires": "\(certificate.notValidAfter)"])
        return (certificate, identity.fleet)
    }

    private func issue(_ csr: CertificateSigningRequest, _ identity: NodeIdentity, renewal: Bool, now: Date) throws(Refusal) -> Certificate {
        do {
            return try authority.issueNode(for: csr, identity: identity, lifetime: lifetime, now: now)
        } catch {
            throw Refusal(status: 400, message: error.description)
        }
    }

    private func record(_ certificate: Certificate, _ identity: NodeIdentity, renewal: Bool, now: Date) async throws(Refusal) {
        do {
            try await store.recordCertificate(
                node: identity.node, fleet: identity.fleet, serial: "\(certificate.serialNumber)",
                expiresAt: certificate.notValidAfter, renewal: renewal, at: now)
        } catch {
            throw Refusal(status: 503, message: "the store cannot be used now (\(error)); retry")
        }
    }

    // MARK: Revocation

    /// Revokes a node: its certificates issued until now are refused, and its open streams end.
    /// Returns how many streams were ended, or nil when the node was never enrolled.
    public func revoke(_ node: String, now: Date = Date()) async throws(AdminError) -> Int? {
        let known: Bool
        do {
            known = try await store.revokeNode(node, at: now)
        } catch {
            throw AdminError.store("cannot revoke: \(error)")
        }
        guard known else { return nil }
        standing.withLock { $0[node, default: (true, [])].revoked = true }
        await refresh(node)
        let ended = endStreams.withLock { $0 }?(node) ?? 0
        logger.notice("node revoked", metadata: ["node": "\(node)", "streamsEnded": "\(ended)"])
        return ended
    }


    public func enrolledNodes() async throws(AdminError) -> EnrolledNodeList {
        do {
            return EnrolledNodeList(
                nodes: try await store.enrolledNodes().map { node in
                    .init(nodeID: node.node, fleet: node.fleet, certificate: Self.view(node))
                })
        } catch {
            throw AdminError.store("cannot read enrolled nodes: \(error)")
        }
    }

    static func view(_ node: EnrolledNode) -> NodeCertificateView {
        NodeCertificateView(
            enrolled: node.enrolledAt, renewed: node.renewedAt, expires: node.expiresAt, serial: node.serial, revoked: node.revokedAt)
    }

    // MARK: Helpers

    static func refused(_ reason: String, _ message: String) -> Refusal {
        Counter(label: "qpilot_enrolments_refused_total", dimensions: [("reason", reason)]).increment()
        return Refusal(status: 403, message: message)
    }

    static func parseRequest(_ pem: String) throws(Refusal) -> CertificateSigningRequest {
        guard pem.utf8.count <= 16 * 1024 else { throw Refusal(status: 400, message: "csr is larger than 16 KiB") }
        let request: CertificateSigningRequest
        do {
            request = try CertificateSigningRequest(pemEncoded: pem)
        } catch {
            throw Refusal(status: 400, message: "csr is not a PEM certificate request (\(error))")
        }
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw Refusal(status: 400, message: "the certificate request's signature does not verify with its own key")
        }
        return request
    }

    static func checkName(_ value: String, field: String) throws(AdminError) {
        guard !value.isEmpty, value.utf8.count <= 256,
            value.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\"" && $0 != "\\" && (0x21...0x7E).contains($0.asciiValue ?? 0) })
        else {
            throw AdminError.invalid("\(field) must be 1 to 256 printable ASCII characters, no spaces or quotes")
        }
    }

    static func hash(_ secret: String) -> Data { Data(SHA256.hash(data: Data(secret.utf8))) }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    static func randomHex(_ count: Int) -> String { randomBytes(count).map { String(format: "%02x", $0) }.joined() }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func format(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}

/// The check on every ADS stream when xDS runs with TLS: the peer's certificate (NIOSSL has
/// already verified that qpilot's CA issued it) must name the node id and fleet the stream asks
/// for, and must not be revoked. Refusals end the stream with PERMISSION_DENIED or
/// UNAUTHENTICATED, are logged with what did not match, and are counted by reason in
/// `qpilot_xds_refused_streams_total`.
struct CertificateAdmission: StreamAdmission {
    let enrolment: NodeEnrolment
    let logger: Logger

    func admit(nodeID: String, fleet: String, context: ServerContext) throws(RPCError) {
        let peer = (context.transportSpecific as? HTTP2ServerTransport.Posix.Context)?.peerCertificate
        guard let peer else {
            throw refuse(
                .unauthenticated, "no-certificate", nodeID, fleet,
                "no client certificate: enrol this node (qpilot bootstrap --enroll) and connect with the certificate it writes")
        }
        guard let identity = CertificateAuthority.identity(of: peer) else {
            throw refuse(
                .permissionDenied, "not-a-node", nodeID, fleet,
                "the client certificate names no qpilot node (no spiffe://qpilot/fleet/…/node/… URI SAN)")
        }
        guard identity.node == nodeID, identity.fleet == fleet else {
            throw refuse(
                .permissionDenied, "identity-mismatch", nodeID, fleet,
                "the client certificate is for node \(identity.node) of fleet \(identity.fleet), but the stream asks for node \(nodeID) of fleet \(fleet)"
            )
        }
        if let refusal = enrolment.refusal(of: identity.node, serial: "\(peer.serialNumber)") {
            throw refuse(.permissionDenied, refusal.reason, nodeID, fleet, refusal.message)
        }
    }

    private func refuse(_ code: RPCError.Code, _ reason: String, _ node: String, _ fleet: String, _ message: String) -> RPCError {
        Counter(label: "qpilot_xds_refused_streams_total", dimensions: [("reason", reason)]).increment()
        logger.warning("xDS stream refused", metadata: ["node": "\(node)", "fleet": "\(fleet)", "reason": "\(reason)", "error": "\(message)"])
        return RPCError(code: code, message: message)
    }
}
