import AdminServer
import Foundation
import HTTPTypes
import Modules
import QpilotAPI
import Synchronization
import WAT

/// A backend that answers from fixed data and records what the routes asked of it, so the
/// routes can be tested without a server behind them.
final class FakeBackend: AdminBackend {
    struct Recorded: Sendable {
        var writes: [(write: ChainWrite, expected: Int?, actor: WriteActor)] = []
        var revisionLimits: [Int] = []
        var secretsSet: [(name: String, value: String)] = []
        var secretsDeleted: [String] = []
    }

    let recorded = Mutex(Recorded())
    /// Thrown by every call that can fail, when set.
    let failure: AdminError?
    /// What a write reports: whether it created the middleware it names.
    let creates: Bool
    let chain = MiddlewareList(
        mode: .store, revision: 3, middleware: [MiddlewareSpec(name: "a", source: "/a.wasm", phase: .authn, priority: 2)])

    init(failure: AdminError? = nil, creates: Bool = true) {
        self.failure = failure
        self.creates = creates
    }

    private func check() throws(AdminError) {
        if let failure { throw failure }
    }

    func nodes() async -> [NodeView] {
        [
            NodeView(
                nodeID: "envoy-1", fleet: "edge", envoyVersion: "envoy/1.40.0", protocolFlavour: "sotw", connected: true,
                connectedSince: Date(timeIntervalSince1970: 0), state: .inSync, acked: [.listeners: "l1"], desired: [.listeners: "l1"],
                lastNack: nil)
        ]
    }

    func node(_ id: String) async -> NodeView? { await nodes().first { $0.nodeID == id } }

    func configStatus() -> ConfigStatusView { ConfigStatusView(generation: 1, published: true, middleware: ["a"], lastError: nil) }

    func middleware() async throws(AdminError) -> MiddlewareList {
        try check()
        return chain
    }

    func write(_ write: ChainWrite, expected: Int?, actor: WriteActor) async throws(AdminError) -> WriteOutcome {
        try check()
        recorded.withLock { $0.writes.append((write, expected, actor)) }
        return WriteOutcome(result: WriteResult(revision: 4, rollout: "/v1/rollouts/4", changed: true), created: creates)
    }

    func revisions(limit: Int) async throws(AdminError) -> RevisionList {
        try check()
        recorded.withLock { $0.revisionLimits.append(limit) }
        return RevisionList(revisions: [])
    }

    func revision(_ number: Int) async throws(AdminError) -> RevisionDetail {
        try check()
        return RevisionDetail(
            summary: RevisionSummary(revision: number, author: "t", createdAt: Date(timeIntervalSince1970: 0), action: "push a", middleware: ["a"]),
            middleware: chain.middleware)
    }

    func rollout(_ revision: Int) async throws(AdminError) -> RolloutView {
        try check()
        return RolloutView(
            revision: revision, state: .complete, fleets: [.everyOther], nodes: [], acked: 0, nacked: 0, pending: 0,
            publishedAt: Date(timeIntervalSince1970: 0))
    }

    func secrets() async throws(AdminError) -> SecretList {
        try check()
        return SecretList(secrets: [SecretInfo(name: "k", updatedAt: Date(timeIntervalSince1970: 0), updatedBy: "t")])
    }

    func setSecret(name: String, value: String, actor: WriteActor) async throws(AdminError) -> SecretInfo {
        try check()
        recorded.withLock { $0.secretsSet.append((name, value)) }
        return SecretInfo(name: name, updatedAt: Date(timeIntervalSince1970: 0), updatedBy: actor.description)
    }

    func deleteSecret(name: String, actor: WriteActor) async throws(AdminError) {
        try check()
        recorded.withLock { $0.secretsDeleted.append(name) }
    }

    func validate(_ request: ValidateRequest) async throws(AdminError) -> ModuleReport {
        try check()
        do {
            return try ModuleValidator.validate(try LoadedModule(bytes: Self.smallestModule, origin: request.source))
        } catch {
            throw AdminError(.unprocessableContent, .invalidModule, "\(error)")
        }
    }

    func bootstrap(nodeID: String, fleet: String, delta: Bool, adminPort: Int) throws(AdminError) -> String {
        try check()
        return "node: {id: \(nodeID), cluster: \(fleet)}\n"
    }

    func metrics() -> String { "qpilot_up 1\n" }

    func certificateAuthority() -> String { "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n" }
    func intercepts() async throws(AdminError) -> InterceptList { InterceptList(mode: .store, entries: []) }
    func setIntercept(host: String, fleets: [String]?, actor: WriteActor) async throws(AdminError) -> InterceptList {
        InterceptList(mode: .store, entries: [.init(host: host, fleets: fleets, updatedAt: Date(timeIntervalSince1970: 0), updatedBy: "\(actor)")])
    }
    func deleteIntercept(host: String, actor: WriteActor) async throws(AdminError) -> InterceptList {
        InterceptList(mode: .store, entries: [])
    }
    func createToken(_ request: TokenRequest, actor: WriteActor) async throws(AdminError) -> TokenView {
        TokenView(
            id: "0011223344556677", fleet: request.fleet, nodeID: request.nodeID, created: Date(timeIntervalSince1970: 0),
            createdBy: actor.description, expires: Date(timeIntervalSince1970: 3600), token: "qpt.0011223344556677.secret",
            caSHA256: String(repeating: "ab", count: 32))
    }
    func tokens() async throws(AdminError) -> TokenList { TokenList(tokens: []) }
    func enrolledNodes() async throws(AdminError) -> EnrolledNodeList { EnrolledNodeList(nodes: []) }
    func revoke(node: String, actor: WriteActor) async throws(AdminError) -> Int {
        guard node == "envoy-1" else { throw AdminError.notFound("no enrolled node has id '\(node)'") }
        return 1
    }
    func interception() -> InterceptionView {
        InterceptionView(
            fleets: [.init(fleet: "*", hosts: ["api.example.com"])],
            certificates: [
                .init(
                    name: "api.example.com", fleets: ["default"], issued: Date(timeIntervalSince1970: 1_800_000_000),
                    expires: Date(timeIntervalSince1970: 1_800_086_400))
            ], mintedSinceStart: 1, leafLifetimeSeconds: 86400, originRoots: "system")
    }

    /// The smallest module the validator accepts: the ABI marker and an allocator.
    static let smallestModule = Data(
        try! wat2wasm("""
            (module
              (memory (export "memory") 1)
              (func (export "proxy_abi_version_0_2_1"))
              (func (export "malloc") (param i32) (result i32) (i32.const 0)))
            """))
}
