import Foundation
import Modules
import QpilotAPI

/// What the admin API asks of the running server. qpilot's runtime implements it; the routes
/// only translate HTTP to these calls and errors back to JSON.
public protocol AdminBackend: Sendable {
    func nodes() async -> [NodeView]
    /// One node (its newest open stream, else its newest), without building every node's view.
    func node(_ id: String) async -> NodeView?
    func configStatus() -> ConfigStatusView
    func middleware() async throws(AdminError) -> MiddlewareList
    /// Makes one revision from a write. `expected` is the client's `If-Match`.
    func write(_ write: ChainWrite, expected: Int?, actor: WriteActor) async throws(AdminError) -> WriteOutcome
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
    /// qpilot's CA certificate, PEM: what clients of intercepted HTTPS trust.
    func certificateAuthority() -> String
    /// The intercepted hosts per fleet and the certificates minted for them.
    func interception() -> InterceptionView
    /// The intercepted hosts, and whether qpilot.yaml or the store holds them.
    func intercepts() async throws(AdminError) -> InterceptList
    func setIntercept(host: String, fleets: [String]?, actor: WriteActor) async throws(AdminError) -> InterceptList
    func deleteIntercept(host: String, actor: WriteActor) async throws(AdminError) -> InterceptList
    /// A one-time join token for a fleet (and optionally one node id).
    func createToken(_ request: TokenRequest, actor: WriteActor) async throws(AdminError) -> TokenView
    /// The join tokens not yet used or expired.
    func tokens() async throws(AdminError) -> TokenList
    /// Every node that holds or held a client certificate.
    func enrolledNodes() async throws(AdminError) -> EnrolledNodeList
    /// Revokes a node's certificates and ends its streams; returns how many streams ended.
    func revoke(node: String, actor: WriteActor) async throws(AdminError) -> Int
}

/// What a write did: the answer's body, and whether it created the middleware it names (PUT
/// answers 201 then, 200 otherwise).
public struct WriteOutcome: Sendable, Equatable {
    public var result: WriteResult
    public var created: Bool

    public init(result: WriteResult, created: Bool) {
        self.result = result
        self.created = created
    }
}
