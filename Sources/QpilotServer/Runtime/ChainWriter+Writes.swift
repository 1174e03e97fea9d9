import Foundation
import Logging
import QpilotAPI
import Store
import Translator

/// Writes through the admin API: each one checks everything a reload would (modules fetched and
/// validated, secrets present, Envoy config consistent) before it commits a revision, so a
/// refused write changes neither the store nor what Envoy sees.
extension ChainWriter {
    /// Applies one write as one revision, publishes it, and starts recording its rollout.
    ///
    /// The modules the write brings are fetched and validated first, before its turn: a slow
    /// source delays only this write, never the writes and reloads queued behind it. A write whose
    /// turn does not come within `writeTurnLimit` is refused (`busy`) and changes nothing.
    public func write(_ write: ChainWrite, expected: Int?, actor: WriteActor) async throws(QpilotError) -> Committed {
        let arrived = ContinuousClock.now
        let fetching = Task { await self.prefetch(for: write) }
        let prefetched = await value(of: fetching, within: Self.writeBudget)
        let left = Self.writeBudget - (ContinuousClock.now - arrived)
        guard let prefetched, left > .zero else {
            throw QpilotError(
                .busy,
                "fetching the write's modules took longer than \(Self.writeBudget); nothing changed. Check the module's source, or push a copy from a faster one")
        }
        return try await takingWriteTurn(waitingAtMost: min(Self.writeTurnLimit, left)) { () async throws(QpilotError) -> Committed in
            try await self.writeNow(write, expected: expected, actor: actor, prefetched: prefetched)
        }
    }

    /// Loads the modules a put, create or apply brings, against the chain as it is now. Anything
    /// wrong is left for the turn to report (with the field it is about).
    func prefetch(for write: ChainWrite) async -> ModuleResolver.Prefetched {
        let names: Set<String>
        switch write {
        case .put(let spec), .create(let spec): names = [spec.name]
        case .apply(let specs): names = Set(specs.map(\.name))
        case .delete, .setEnabled, .rollback: return [:]
        }
        let desired = desired
        guard desired.mode == .store, let before = try? await head()?.middleware ?? [],
            let edited = try? ChainEdit.apply(write, to: before, rollbackChain: nil).0,
            let entries = try? edited.enabledEntries()
        else { return [:] }
        return await modules.prefetch(entries.filter { names.contains($0.name) }, delivery: desired.delivery, confined: true)
    }

    func writeNow(
        _ write: ChainWrite, expected: Int?, actor: WriteActor, prefetched: ModuleResolver.Prefetched = [:]
    ) async throws(QpilotError) -> Committed {
        let desired = desired
        guard desired.mode == .store else {
            throw QpilotError(
                .fileMode,
                "qpilot.yaml has a `middleware:` section, so the file is the source of truth; edit it instead, or remove the section to manage middleware through the API")
        }
        let head = try await head()
        let headNumber = head?.number ?? 0
        if let expected, expected != headNumber { throw .stale(expected: expected, head: headNumber) }
        var rollbackChain: [MiddlewareSpec]?
        if case .rollback(let number) = write {
            do {
                rollbackChain = try await store.revision(number)?.middleware
            } catch {
                throw .store("cannot read revision \(number)", error)
            }
        }
        let before = head?.middleware ?? []
        let (edited, action) = try ChainEdit.apply(write, to: before, rollbackChain: rollbackChain)
        let compiled = try await compile(try edited.enabledEntries(), desired, prefetched: prefetched)
        let chain = compiled.recordingModules(edited)
        let created = write.names.map { name in !before.contains { $0.name == name } } ?? false
        if let head, head.middleware == chain {
            return Committed(revision: headNumber, changed: false, created: false)
        }
        let revision: Revision
        do {
            revision = try await store.commit(middleware: chain, author: actor.description, action: action, expected: headNumber)
        } catch {
            throw .store("cannot write the revision; nothing changed", error)
        }
        await publish(compiled, desired: desired, revision: revision.number)
        logger.info("revision committed", metadata: ["revision": "\(revision.number)", "action": "\(action)", "author": "\(revision.author)"])
        await pruneHistory()
        return Committed(revision: revision.number, changed: true, created: created)
    }

    /// The history keeps the latest `revisionsKept` revisions; older ones, and their rollout
    /// records, are deleted after each commit, so a busy API cannot grow the store without end.
    static let revisionsKept = 1000

    func pruneHistory() async {
        do {
            let deleted = try await store.prune(keepingLatest: Self.revisionsKept)
            if deleted > 0 { logger.info("old revisions deleted", metadata: ["count": "\(deleted)", "kept": "\(Self.revisionsKept)"]) }
        } catch {
            logger.warning("cannot delete old revisions", metadata: ["error": "\(error)"])
        }
    }

    /// Creates or replaces a secret, republishes when the chain uses it, and says what is stored
    /// (read in the same turn, so no other write can come between).
    @discardableResult
    public func setSecret(name: String, value: String, actor: WriteActor) async throws(QpilotError) -> SecretInfo {
        try await takingTurns { () async throws(QpilotError) -> SecretInfo in
            guard !value.isEmpty else { throw QpilotError(.invalid, "a secret's value must not be empty") }
            do {
                try await self.store.setSecret(name: name, value: value, author: actor.description)
            } catch {
                throw .store("cannot write the secret", error)
            }
            // The secret is stored either way; a republish that fails keeps its error in the status.
            if try await !self.secretUsers(name).isEmpty { _ = await self.reloadNow() }
            self.logger.info("secret set", metadata: ["name": "\(name)", "author": "\(actor)"])
            let secrets: [SecretInfo]
            do {
                secrets = try await self.store.secrets()
            } catch {
                throw .store("the secret '\(name)' was written but cannot be listed", error)
            }
            guard let info = secrets.first(where: { $0.name == name }) else {
                throw QpilotError(.store, "the secret '\(name)' was written but cannot be listed")
            }
            return info
        }
    }

    /// Removes a secret that no middleware refers to.
    public func deleteSecret(name: String, actor: WriteActor) async throws(QpilotError) {
        try await takingTurns { () async throws(QpilotError) in
            let users = try await self.secretUsers(name)
            guard users.isEmpty else {
                throw QpilotError(
                    .secretInUse,
                    "secret '\(name)' is used by middleware \(users.map { "'\($0)'" }.joined(separator: ", ")); change their config first",
                    details: ["middleware": users.joined(separator: ",")])
            }
            let removed: Bool
            do {
                removed = try await self.store.deleteSecret(name: name)
            } catch {
                throw .store("cannot delete the secret", error)
            }
            guard removed else { throw QpilotError(.notFound, "no secret named '\(name)'; `qctl secret list` lists them") }
            self.logger.info("secret deleted", metadata: ["name": "\(name)", "author": "\(actor)"])
        }
    }

    /// The middleware whose config refers to a secret.
    func secretUsers(_ name: String) async throws(QpilotError) -> [String] {
        try await chain().middleware.filter { SecretReferences.names(in: $0.config?.moduleConfiguration ?? "").contains(name) }
            .map(\.name)
    }
}

extension ChainWrite {
    /// The middleware a write creates or replaces by name, if it names one.
    var names: String? {
        switch self {
        case .put(let spec), .create(let spec): spec.name
        case .delete, .setEnabled, .apply, .rollback: nil
        }
    }
}
