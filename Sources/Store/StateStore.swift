import Foundation
import QpilotAPI

/// One atomic change to the desired state: who, when, what, and the whole chain after it.
public struct Revision: Sendable, Equatable {
    /// 1, 2, 3, … in commit order; never reused.
    public var number: Int
    public var author: String
    public var createdAt: Date
    /// What the write was: `push NAME`, `apply`, `delete NAME`, `rollback to N`, ….
    public var action: String
    /// The whole desired chain after this revision.
    public var middleware: [MiddlewareSpec]

    public init(number: Int, author: String, createdAt: Date, action: String, middleware: [MiddlewareSpec]) {
        self.number = number
        self.author = author
        self.createdAt = createdAt
        self.action = action
        self.middleware = middleware
    }
}

/// Why a store operation was refused.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// The write expected `expected` as the head, but the head is `head`.
    case staleRevision(expected: Int, head: Int)
    /// The store's files cannot be used: the message says which and why.
    case unusable(String)
    /// A secret name that is not 1–63 letters, digits, '-', '_' or '.'.
    case invalidName(String)

    public var description: String {
        switch self {
        case .staleRevision(let expected, let head):
            return "the write expected revision \(expected), but the head is revision \(head); read the current state and retry"
        case .unusable(let message):
            return message
        case .invalidName(let name):
            // A name can be anything a client sent, so the message quotes only its start.
            let shown = name.count > 64 ? "\(name.prefix(64))…" : name
            return "invalid secret name '\(shown)': use 1 to 63 letters, digits, '-', '_' or '.'"
        }
    }
}

/// A config version a node refused, remembered per node and resource.
public struct StoredRejection: Sendable, Equatable {
    public var node: String
    public var resource: String
    public var version: String
    public var message: String
    public var at: Date
    /// The version the node kept running, when known.
    public var serving: String?

    public init(node: String, resource: String, version: String, message: String, at: Date, serving: String?) {
        self.node = node
        self.resource = resource
        self.version = version
        self.message = message
        self.at = at
        self.serving = serving
    }
}

/// Durable desired state and its history, plus secrets. SQLite (`SQLiteStateStore`) is the
/// embedded default; the protocol leaves room for a PostgreSQL store shared by several replicas.
///
/// Every method is safe to call concurrently; `commit` is atomic: either the whole revision is
/// written and becomes the head, or nothing changes.
public protocol StateStore: Sendable {
    /// The newest revision, or nil before the first write.
    func head() async throws -> Revision?

    /// Writes a new revision whose chain is `middleware`, in one transaction. When `expected` is
    /// given and is not the head's number (0 for an empty store), throws
    /// `StoreError.staleRevision` and writes nothing.
    func commit(middleware: [MiddlewareSpec], author: String, action: String, expected: Int?) async throws -> Revision

    /// Revisions newest first; at most `limit`, older than `before` when it is given.
    func revisions(limit: Int, before: Int?) async throws -> [Revision]

    /// One revision, or nil when there is none with that number.
    func revision(_ number: Int) async throws -> Revision?

    /// Deletes all but the latest `count` revisions (`count` > 0), and their rollout records;
    /// returns how many revisions it deleted. Numbers are never reused.
    func prune(keepingLatest count: Int) async throws -> Int

    /// Saves an opaque record about a revision's rollout (what it published, and when), so that
    /// its status survives a restart. Replaces an earlier record for the same revision.
    func saveRollout(revision: Int, record: Data) async throws

    /// The record saved for a revision, if any.
    func rollout(revision: Int) async throws -> Data?

    /// Saves rejections (replacing one for the same node and resource) and forgets others, in one
    /// transaction.
    func updateRejections(remember: [StoredRejection], forget: [(node: String, resource: String)]) async throws

    /// Every remembered rejection.
    func rejections() async throws -> [StoredRejection]

    /// The key of resource versions: made (32 random bytes) on first use, the same ever after.
    func versionKey() async throws -> Data

    /// Creates or replaces a secret. The value is encrypted at rest.
    func setSecret(name: String, value: String, author: String) async throws

    /// Removes a secret; false when there was none.
    func deleteSecret(name: String) async throws -> Bool

    /// Secret names and when they changed, sorted by name; never the values.
    func secrets() async throws -> [SecretInfo]

    /// The decrypted values, for building Envoy config only. Nothing that answers a client or
    /// writes a log may call this.
    func secretValues() async throws -> [String: String]

    /// Adds or replaces an intercepted host (store mode), with its fleets (nil: every fleet).
    func setIntercept(host: String, fleets: [String]?, author: String) async throws

    /// Removes an intercepted host; false when there was none.
    func deleteIntercept(host: String) async throws -> Bool

    /// The intercepted hosts, sorted by host.
    func intercepts() async throws -> [InterceptEntry]

    // Enrolment (issue 12): join tokens and the nodes that hold a client certificate.

    /// Stores a join token; `secretHash` is the SHA-256 of its secret part.
    func createToken(_ token: EnrolmentToken, secretHash: Data) async throws
    /// Uses a token for `node`, atomically: only the first caller with the right secret gets
    /// `.accepted`, and the token is spent from then on. A node id that enrolled before (revoked
    /// or not) may use only a token made for it by name; another token is refused, not spent.
    func redeemToken(id: String, secretHash: Data, node: String, now: Date) async throws -> TokenRedemption
    /// The tokens not yet expired or used, newest first.
    func tokens() async throws -> [EnrolmentToken]
    /// Records the certificate just issued to `node`. An enrolment (not a renewal) retires the
    /// node's earlier certificates and clears a revocation; a renewal adds one, and forgets those
    /// that expired.
    func recordCertificate(node: String, fleet: String, serial: String, expiresAt: Date, renewal: Bool, at: Date) async throws
    /// A node's revocation and the serials of the certificates it may use (not expired at `now`),
    /// or nil when it never enrolled.
    func certificates(of node: String, now: Date) async throws -> (revoked: Bool, serials: Set<String>)?
    /// Every enrolled node's revocation and usable serials, for the start.
    func allCertificates(now: Date) async throws -> [String: (revoked: Bool, serials: Set<String>)]
    /// Revokes a node: false when no such node was ever enrolled.
    func revokeNode(_ node: String, at: Date) async throws -> Bool
    /// Every enrolled node, by node id.
    func enrolledNodes() async throws -> [EnrolledNode]
}

/// A one-time join token, without its secret.
public struct EnrolmentToken: Sendable, Equatable {
    public var id: String
    public var fleet: String
    /// The only node id that may use it, or nil for any.
    public var node: String?
    public var createdAt: Date
    public var createdBy: String
    public var expiresAt: Date
    public var usedAt: Date?
    public var usedBy: String?

    public init(
        id: String, fleet: String, node: String?, createdAt: Date, createdBy: String, expiresAt: Date, usedAt: Date? = nil,
        usedBy: String? = nil
    ) {
        self.id = id
        self.fleet = fleet
        self.node = node
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.usedBy = usedBy
    }
}

/// What using a join token came to.
public enum TokenRedemption: Sendable, Equatable {
    case accepted(fleet: String)
    /// No token has this id, or its secret is wrong (the two are not told apart).
    case unknown
    case used(at: Date, by: String)
    case expired(at: Date)
    /// The token was made for another node id.
    case otherNode(String)
    /// The node id enrolled before, and the token is not one made for it.
    case needsNodeToken
}

/// A node that holds (or held) a client certificate.
public struct EnrolledNode: Sendable, Equatable {
    public var node: String
    public var fleet: String
    public var enrolledAt: Date
    public var renewedAt: Date
    /// The serial number of the latest certificate, lowercase hex.
    public var serial: String
    public var expiresAt: Date
    public var revokedAt: Date?

    public init(
        node: String, fleet: String, enrolledAt: Date, renewedAt: Date, serial: String, expiresAt: Date, revokedAt: Date?
    ) {
        self.node = node
        self.fleet = fleet
        self.enrolledAt = enrolledAt
        self.renewedAt = renewedAt
        self.serial = serial
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}
