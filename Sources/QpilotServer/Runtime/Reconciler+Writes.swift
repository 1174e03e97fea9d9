import AdminServer
import Foundation
import Logging
import Modules
import QpilotAPI
import Store
import Translator
import XDS

/// Writes through the admin API: each one checks everything a reload would (modules fetched and
/// validated, secrets present, Envoy config consistent) before it commits a revision, so a
/// refused write changes neither the store nor what Envoy sees.
extension Reconciler {
    public var mode: Mode { current.hasMiddlewareSection ? .file : .store }

    /// The chain at the head revision (or, in file mode, qpilot.yaml's entries).
    public func middleware() async throws(AdminError) -> MiddlewareList {
        if mode == .file {
            return MiddlewareList(mode: Mode.file.rawValue, revision: 0, middleware: current.middleware.map(Self.spec))
        }
        let head = try await storeCall { try await self.state.head() }
        return MiddlewareList(mode: Mode.store.rawValue, revision: head?.number ?? 0, middleware: head?.middleware ?? [])
    }

    /// Applies one write as one revision, publishes it, and starts recording its rollout.
    public func write(_ write: ChainWrite, expected: Int?, actor: WriteActor) async throws(AdminError) -> WriteResult {
        try await exclusively { () async throws(AdminError) -> WriteResult in
            try await self.writeNow(write, expected: expected, actor: actor)
        }
    }

    func writeNow(_ write: ChainWrite, expected: Int?, actor: WriteActor) async throws(AdminError) -> WriteResult {
        guard mode == .store else {
            throw AdminError(
                409, "file_mode",
                "qpilot.yaml has a `middleware:` section, so the file is the source of truth; edit it instead, or remove the section to manage middleware through the API")
        }
        let head = try await storeCall { try await self.state.head() }
        let headNumber = head?.number ?? 0
        if let expected, expected != headNumber { throw Self.stale(expected: expected, head: headNumber) }
        var rollbackChain: [MiddlewareSpec]?
        if case .rollback(let number) = write {
            rollbackChain = try await storeCall { try await self.state.revision(number) }?.middleware
        }
        var (chain, action) = try ChainEdit.apply(write, to: head?.middleware ?? [], rollbackChain: rollbackChain)
        var entries: [QpilotConfig.MiddlewareEntry] = []
        for (index, spec) in chain.enumerated() {
            let entry = try spec.entry(at: index)
            if spec.isEnabled { entries.append(entry) }
        }
        let built: Built
        do {
            built = try await build(current, entries)
        } catch {
            throw Self.refusal(error)
        }
        let modules = Dictionary(built.state.middleware.map { ($0.name, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        for index in chain.indices where chain[index].isEnabled { chain[index].resolvedSHA256 = modules[chain[index].name] }
        if let head, head.middleware == chain {
            return WriteResult(revision: headNumber, rollout: "/v1/rollouts/\(headNumber)", changed: false)
        }
        let revision: Revision
        do {
            revision = try await state.commit(middleware: chain, author: actor.description, action: action, expected: headNumber)
        } catch let StoreError.staleRevision(expected, head) {
            throw Self.stale(expected: expected, head: head)
        } catch {
            throw AdminError(500, "store", "cannot write the revision: \(error); nothing changed")
        }
        await publish(built, config: current, mode: .store, revision: revision.number)
        logger.info("revision committed", metadata: ["revision": "\(revision.number)", "action": "\(action)", "author": "\(revision.author)"])
        return WriteResult(revision: revision.number, rollout: "/v1/rollouts/\(revision.number)", changed: true)
    }

    /// Creates or replaces a secret, and republishes when the desired state uses it.
    public func setSecret(name: String, value: String, actor: WriteActor) async throws(AdminError) -> SecretInfo {
        try await exclusively { () async throws(AdminError) -> SecretInfo in
            try await self.setSecretNow(name: name, value: value, actor: actor)
        }
    }

    func setSecretNow(name: String, value: String, actor: WriteActor) async throws(AdminError) -> SecretInfo {
        guard !value.isEmpty else { throw AdminError(400, "invalid", "a secret's value must not be empty") }
        try await storeCall(invalidAs: 400) { try await self.state.setSecret(name: name, value: value, author: actor.description) }
        if try await !secretUsers(name).isEmpty { await reloadNow() }
        logger.info("secret set", metadata: ["name": "\(name)", "author": "\(actor)"])
        let secrets = try await storeCall { try await self.state.secrets() }
        guard let info = secrets.first(where: { $0.name == name }) else {
            throw AdminError(500, "store", "the secret '\(name)' was written but cannot be listed")
        }
        return info
    }

    /// Removes a secret that no middleware refers to.
    public func deleteSecret(name: String, actor: WriteActor) async throws(AdminError) {
        try await exclusively { () async throws(AdminError) in try await self.deleteSecretNow(name: name, actor: actor) }
    }

    func deleteSecretNow(name: String, actor: WriteActor) async throws(AdminError) {
        let users = try await secretUsers(name)
        guard users.isEmpty else {
            throw AdminError(
                409, "secret_in_use",
                "secret '\(name)' is used by middleware \(users.map { "'\($0)'" }.joined(separator: ", ")); change their config first",
                details: ["middleware": users.joined(separator: ",")])
        }
        let removed = try await storeCall { try await self.state.deleteSecret(name: name) }
        guard removed else { throw AdminError(404, "not_found", "no secret named '\(name)'; `qctl secret list` lists them") }
        logger.info("secret deleted", metadata: ["name": "\(name)", "author": "\(actor)"])
    }

    /// Fetches and validates a module without storing or publishing anything.
    public func validate(_ request: ValidateRequest) async throws(AdminError) -> ModuleReport {
        var pin: String?
        if let sha256 = request.sha256 {
            guard let normalized = QpilotConfig.normalizedSHA256(sha256) else {
                throw AdminError(400, "invalid", "sha256: \(QpilotConfig.sha256Problem)")
            }
            pin = normalized
        }
        do {
            let source = try ModuleSource(parsing: request.source, relativeTo: configURL.deletingLastPathComponent())
            let fetched = try await modules.fetcher.fetch(source, expectedSHA256: pin)
            return try ModuleValidator.validate(fetched.module)
        } catch let error as ModuleError {
            throw AdminError(422, "invalid_module", error.description)
        } catch let error as ModuleValidationError {
            throw AdminError(
                422, "invalid_module", "not a valid Proxy-Wasm module: " + error.problems.map(\.description).joined(separator: "; "))
        } catch {
            throw AdminError(422, "invalid_module", "\(error)")
        }
    }

    // MARK: - Helpers

    func secretUsers(_ name: String) async throws(AdminError) -> [String] {
        let list = try await middleware()
        return list.middleware.filter { SecretReferences.names(in: $0.config?.moduleConfiguration ?? "").contains(name) }.map(\.name)
    }

    static func stale(expected: Int, head: Int) -> AdminError {
        AdminError(
            409, "stale_revision",
            "the write expected revision \(expected), but the head is revision \(head); read the current state (`qctl get`) and retry",
            details: ["expected": "\(expected)", "head": "\(head)"])
    }

    /// A build failure as the client should see it: a module problem, a missing secret, or
    /// config that Envoy would not accept.
    static func refusal(_ error: ConfigError) -> AdminError {
        let where_ = error.field.isEmpty ? "" : "\(error.field): "
        if error.field.hasSuffix(".config"), error.message.contains("secret") {
            return AdminError(422, "missing_secret", where_ + error.message)
        }
        if error.field.hasSuffix(".source") || error.field.hasSuffix(".sha256") || error.field.hasSuffix(".delivery") {
            return AdminError(422, "invalid_module", where_ + error.message)
        }
        return AdminError(422, "invalid", where_ + error.message)
    }

    /// Runs a store call; a store failure is a 500 (or `invalidAs` for a refused name).
    func storeCall<T>(invalidAs status: Int = 500, _ body: () async throws -> T) async throws(AdminError) -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            if case .staleRevision(let expected, let head) = error { throw Self.stale(expected: expected, head: head) }
            throw AdminError(status, status == 500 ? "store" : "invalid", error.description)
        } catch {
            throw AdminError(status, status == 500 ? "store" : "invalid", "\(error)")
        }
    }

    /// A qpilot.yaml entry in the API's shape, for reading in file mode.
    static func spec(_ entry: QpilotConfig.MiddlewareEntry) -> MiddlewareSpec {
        MiddlewareSpec(
            name: entry.name, source: entry.source, sha256: entry.sha256, pullPolicy: entry.pullPolicy.rawValue,
            config: entry.config.isEmpty ? nil : .string(entry.config), failurePolicy: entry.failurePolicy.rawValue,
            phase: entry.phase?.rawValue, priority: entry.priority, fleets: entry.fleets, delivery: entry.delivery?.rawValue)
    }
}
