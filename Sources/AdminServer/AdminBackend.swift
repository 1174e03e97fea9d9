import Foundation
import Modules
import QpilotAPI

/// A refusal the admin API turns into `{code, message, details}` with an HTTP status.
public struct AdminError: Error, Equatable, CustomStringConvertible {
    /// The HTTP status: 400, 404, 409, 422, 500 ….
    public var status: Int
    /// Stable and machine-readable: `invalid`, `not_found`, `stale_revision`, `duplicate`,
    /// `file_mode`, `invalid_module`, `missing_secret`, `secret_in_use`, ….
    public var code: String
    /// What happened and what to do.
    public var message: String
    public var details: [String: String]?

    public init(_ status: Int, _ code: String, _ message: String, details: [String: String]? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    public var description: String { "\(message) (\(code))" }
}

/// One write to the desired chain, as the routes receive it.
public enum ChainWrite: Sendable, Equatable {
    /// `PUT /v1/middleware/<name>`: create or replace.
    case put(MiddlewareSpec)
    /// `POST /v1/middleware`: create; a name that exists is a conflict.
    case create(MiddlewareSpec)
    case delete(name: String)
    case setEnabled(name: String, enabled: Bool)
    /// `POST /v1/apply`: the whole chain.
    case apply([MiddlewareSpec])
    /// `POST /v1/revisions/<n>/rollback`: the chain of revision n, as a new revision.
    case rollback(to: Int)
}

/// Who is writing: recorded as a revision's author.
public struct WriteActor: Sendable, Equatable, CustomStringConvertible {
    /// What the client says (qctl sends `user@host`), when it says anything.
    public var claimed: String?
    /// The first 8 hex digits of the token's sha256: which token wrote, without the token.
    public var tokenFingerprint: String

    public init(claimed: String?, tokenFingerprint: String) {
        self.claimed = claimed
        self.tokenFingerprint = tokenFingerprint
    }

    public var description: String {
        if let claimed, !claimed.isEmpty { return "\(claimed) (token \(tokenFingerprint))" }
        return "token \(tokenFingerprint)"
    }
}

/// What the admin API asks of the running server. qpilot's runtime implements it; the routes
/// only translate HTTP to these calls and errors back to JSON.
public protocol AdminBackend: Sendable {
    func nodes() -> [NodeView]
    func configStatus() -> ConfigStatusView
    func middleware() async throws(AdminError) -> MiddlewareList
    /// Makes one revision from a write. `expected` is the client's `If-Match`.
    func write(_ write: ChainWrite, expected: Int?, actor: WriteActor) async throws(AdminError) -> WriteResult
    func revisions(limit: Int) async throws(AdminError) -> RevisionList
    func revision(_ number: Int) async throws(AdminError) -> RevisionDetail
    func rollout(_ revision: Int) async throws(AdminError) -> RolloutView
    func secrets() async throws(AdminError) -> SecretList
    func setSecret(name: String, value: String, actor: WriteActor) async throws(AdminError) -> SecretInfo
    func deleteSecret(name: String, actor: WriteActor) async throws(AdminError)
    func validate(_ request: ValidateRequest) async throws(AdminError) -> ModuleReport
    /// An Envoy bootstrap (YAML) that connects one Envoy to this qpilot.
    func bootstrap(nodeID: String, fleet: String, delta: Bool, adminPort: Int) throws(AdminError) -> String
    /// The Prometheus text exposition of every metric.
    func metrics() -> String
}
