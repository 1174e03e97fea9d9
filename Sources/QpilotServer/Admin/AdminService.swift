import AdminServer
import Foundation
import HTTPTypes
import Modules
import QpilotAPI
import Store
import Synchronization
import Translator
import XDS

/// The admin API's view of the running server: reads come from the store, the node registry
/// and the snapshot cache; writes go to the one writer. Here, and only here, a domain error
/// becomes an HTTP answer.
struct AdminService: AdminBackend {
    let writer: ChainWriter
    let store: any StateStore
    let nodeRegistry: NodeRegistry
    let cache: SnapshotCache
    let modules: ModuleResolver
    let metricsRegistry: QpilotMetrics
    /// qpilot's CA certificate, PEM.
    let caPEM: String
    let certificates: LeafCertificates
    let enrolment: NodeEnrolment
    /// Whether xDS requires enrolled nodes (xds.tls).
    let enrolmentEnabled: Bool

    func nodes() async -> [NodeView] {
        await withCertificates(await namingServedRevisions(nodeRegistry.all().map { $0.view(against: cache.snapshot(for: $0.fleet)) }))
    }

    func node(_ id: String) async -> NodeView? {
        guard let status = nodeRegistry.status(of: id) else { return nil }
        return await withCertificates(await namingServedRevisions([status.view(against: cache.snapshot(for: status.fleet))])).first
    }

    /// Each enrolled node's certificate dates, from the store.
    private func withCertificates(_ nodes: [NodeView]) async -> [NodeView] {
        guard enrolmentEnabled, !nodes.isEmpty, let enrolled = try? await store.enrolledNodes() else { return nodes }
        let byNode = Dictionary(enrolled.map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
        return nodes.map { node in
            var node = node
            node.certificate = byNode[node.nodeID].map(NodeEnrolment.view)
            return node
        }
    }

    func createToken(_ request: TokenRequest, actor: WriteActor) async throws(AdminError) -> TokenView {
        guard enrolmentEnabled else {
            throw AdminError(
                .conflict, .invalid,
                "xDS runs without TLS (xds.tls is off, or xds.address is loopback), so nodes connect without enrolling; set xds.tls: true to require join tokens")
        }
        return try await enrolment.createToken(request, author: actor.description)
    }

    func tokens() async throws(AdminError) -> TokenList { try await enrolment.tokens() }

    func enrolledNodes() async throws(AdminError) -> EnrolledNodeList { try await enrolment.enrolledNodes() }

    func revoke(node: String, actor: WriteActor) async throws(AdminError) -> Int {
        guard let ended = try await enrolment.revoke(node) else {
            throw AdminError.notFound("no enrolled node has id '\(node)'; `qctl node list` shows them")
        }
        return ended
    }

    /// A refused middleware names the revision the node still runs, from the rollout records.
    private func namingServedRevisions(_ nodes: [NodeView]) async -> [NodeView] {
        var views = nodes
        guard views.contains(where: { $0.middleware.contains { $0.rejected?.serving != nil } }) else { return views }
        let records = await recentRollouts()
        for node in views.indices {
            for index in views[node].middleware.indices {
                guard let serving = views[node].middleware[index].rejected?.serving else { continue }
                let resource = Names.filter(views[node].middleware[index].name)
                let fleet = views[node].fleet
                views[node].middleware[index].rejected?.servingRevision =
                    records.first { $0.record.expectedFilters(for: fleet)?[resource] == serving }?.revision
            }
        }
        return views
    }

    /// The rollout records of the latest revisions, newest first; what cannot be read is left out.
    private func recentRollouts(limit: Int = 50) async -> [(revision: Int, record: RolloutRecord)] {
        var result: [(revision: Int, record: RolloutRecord)] = []
        for revision in (try? await store.revisions(limit: limit, before: nil)) ?? [] {
            guard let data = try? await store.rollout(revision: revision.number),
                let record = try? JSONDecoder().decode(RolloutRecord.self, from: data)
            else { continue }
            result.append((revision.number, record))
        }
        return result
    }

    func certificateAuthority() -> String { caPEM }

    func interception() -> InterceptionView {
        let (byFleet, fallback) = cache.published
        var fleets = byFleet.sorted { $0.key < $1.key }.map { InterceptionView.FleetHosts(fleet: $0.key, hosts: $0.value.secretNames.map(\.text)) }
        if let fallback { fleets.append(.init(fleet: FleetKey.everyOther.description, hosts: fallback.secretNames.map(\.text))) }
        let tls = writer.state.withLock { $0.desired.tls }
        let keys = byFleet.keys.sorted().map(FleetKey.named) + [FleetKey.everyOther]
        let originated = keys.compactMap { key -> InterceptionView.FleetHosts? in
            let hosts = tls.originated(for: key).map(\.text)
            return hosts.isEmpty ? nil : .init(fleet: key.description, hosts: hosts)
        }
        var holders: [String: [String]] = [:]
        for (fleet, held) in cache.onDemand(of: .secret) {
            for name in held.keys { holders[name, default: []].append(fleet) }
        }
        return InterceptionView(
            fleets: fleets, originated: originated,
            certificates: certificates.minted.map { minted in
                InterceptionView.Certificate(
                    name: minted.name, fleets: (holders[minted.name] ?? []).sorted(), issued: minted.issued, expires: minted.notAfter)
            },
            mintedSinceStart: certificates.mintedCount, leafLifetimeSeconds: Int(certificates.lifetime),
            originRoots: tls.upstreamCA == nil ? "system" : "upstreamCA")
    }

    func configStatus() -> ConfigStatusView {
        let status = writer.status
        return ConfigStatusView(
            generation: status.generation, published: status.published, middleware: status.middleware,
            lastError: status.lastError)
    }

    func middleware() async throws(AdminError) -> MiddlewareList {
        try await answer { () async throws(QpilotError) in try await writer.chain() }
    }

    func write(_ write: ChainWrite, expected: Int?, actor: WriteActor) async throws(AdminError) -> WriteOutcome {
        let committed = try await answer { () async throws(QpilotError) in
            try await writer.write(write, expected: expected, actor: actor)
        }
        return WriteOutcome(
            result: WriteResult(revision: committed.revision, rollout: "/v1/rollouts/\(committed.revision)", changed: committed.changed),
            created: committed.created)
    }

    func revisions(limit: Int) async throws(AdminError) -> RevisionList {
        let revisions = try await reading("the history") { try await store.revisions(limit: limit, before: nil) }
        return RevisionList(revisions: revisions.map(\.summary))
    }

    func revision(_ number: Int) async throws(AdminError) -> RevisionDetail {
        guard let revision = try await reading("the revision", { try await store.revision(number) }) else {
            throw AdminError(QpilotError.unknownRevision(number))
        }
        return RevisionDetail(summary: revision.summary, middleware: revision.middleware)
    }

    func rollout(_ revision: Int) async throws(AdminError) -> RolloutView {
        guard let data = try await reading("the rollout", { try await store.rollout(revision: revision) }) else {
            if try await reading("the revision", { try await store.revision(revision) }) == nil {
                throw AdminError(QpilotError.unknownRevision(revision))
            }
            throw AdminError(QpilotError(.notFound, "revision \(revision) made no rollout (it was never published)"))
        }
        let record: RolloutRecord
        do {
            record = try JSONDecoder().decode(RolloutRecord.self, from: data)
        } catch {
            throw AdminError(QpilotError(.store, "the rollout record of revision \(revision) is unreadable: \(error)"))
        }
        let cache = self.cache
        return record.view(revision: revision, nodes: nodeRegistry.all()) { fleet in cache.snapshot(for: fleet)?.configVersions ?? [:] }
    }

    func secrets() async throws(AdminError) -> SecretList {
        SecretList(secrets: try await reading("the secrets") { try await store.secrets() })
    }

    func setSecret(name: String, value: String, actor: WriteActor) async throws(AdminError) -> SecretInfo {
        try await answer { () async throws(QpilotError) in try await writer.setSecret(name: name, value: value, actor: actor) }
    }

    func deleteSecret(name: String, actor: WriteActor) async throws(AdminError) {
        try await answer { () async throws(QpilotError) in try await writer.deleteSecret(name: name, actor: actor) }
    }

    func intercepts() async throws(AdminError) -> InterceptList {
        try await answer { () async throws(QpilotError) in try await writer.interceptList() }
    }

    func setIntercept(host: String, fleets: [String]?, actor: WriteActor) async throws(AdminError) -> InterceptList {
        try await answer { () async throws(QpilotError) in try await writer.setIntercept(host: host, fleets: fleets, actor: actor) }
    }

    func deleteIntercept(host: String, actor: WriteActor) async throws(AdminError) -> InterceptList {
        try await answer { () async throws(QpilotError) in try await writer.deleteIntercept(host: host, actor: actor) }
    }

    func validate(_ request: ValidateRequest) async throws(AdminError) -> ModuleReport {
        do {
            let report = try await modules.check(source: request.source, sha256: request.sha256)
            metricsRegistry.validation(ok: true)
            return report
        } catch {
            metricsRegistry.validation(ok: false)
            throw AdminError(error)
        }
    }

    func bootstrap(nodeID: String, fleet: String, delta: Bool, adminPort: Int) throws(AdminError) -> String {
        guard !enrolmentEnabled else {
            // A plaintext bootstrap would only be refused; the node's own enrolment writes one.
            throw AdminError(
                .conflict, .invalid,
                "xDS requires enrolled nodes (xds.tls): make a join token with `qctl node token create --fleet \(fleet) --node \(nodeID)` and run the command it prints on the node; it writes the node's envoy.yaml"
            )
        }
        let bootstrap = Bootstrap(nodeID: nodeID, fleet: fleet, xds: writer.server.xds.address, delta: delta, adminPort: adminPort)
        do {
            try bootstrap.validate()
        } catch {
            throw AdminError(error)
        }
        return bootstrap.yaml
    }

    func metrics() -> String {
        metricsRegistry.updateConnectedNodes(nodeRegistry.all(), configuredFleets: Set(writer.status.fleets))
        return metricsRegistry.exposition()
    }

    // MARK: Errors

    func answer<T>(_ body: () async throws(QpilotError) -> T) async throws(AdminError) -> T {
        do {
            return try await body()
        } catch {
            throw AdminError(error)
        }
    }

    func reading<T>(_ what: String, _ body: () async throws -> T) async throws(AdminError) -> T {
        do {
            return try await body()
        } catch {
            throw AdminError(QpilotError.store("cannot read \(what)", error))
        }
    }
}

extension AdminError {
    /// A domain error as the admin API answers it: the status and code from its `Code`, the
    /// message with its field.
    init(_ error: QpilotError) {
        let (status, code): (HTTPResponse.Status, APIErrorCode) =
            switch error.code {
            case .invalid: (.badRequest, .invalid)
            case .notFound: (.notFound, .notFound)
            case .unknownRevision: (.notFound, .unknownRevision)
            case .duplicate: (.conflict, .duplicate)
            case .fileMode: (.conflict, .fileMode)
            case .staleRevision: (.conflict, .staleRevision)
            case .secretInUse: (.conflict, .secretInUse)
            case .invalidModule: (.unprocessableContent, .invalidModule)
            case .missingSecret: (.unprocessableContent, .missingSecret)
            case .invalidConfig: (.unprocessableContent, .invalid)
            case .busy: (.serviceUnavailable, .busy)
            default: (.internalServerError, .store)
            }
        self.init(status, code, error.located, details: error.details.isEmpty ? nil : error.details)
    }
}

extension Revision {
    var summary: RevisionSummary {
        RevisionSummary(revision: number, author: author, createdAt: createdAt, action: action, middleware: middleware.map(\.name))
    }
}
