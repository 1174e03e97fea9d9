import Foundation
import Logging
import QpilotAPI
import Store
import Translator

/// Intercepted hosts kept in the store (`qctl tls intercept add|remove|list`), used whenever
/// qpilot.yaml has no `tls.intercept`. A change republishes at once; Envoy asks for certificates
/// of the new names on their first handshake.
extension ChainWriter {
    /// The store's intercepted hosts, as the translator takes them.
    func storedIntercepts() async throws(QpilotError) -> [DesiredState.Intercept] {
        let entries: [InterceptEntry]
        do {
            entries = try await store.intercepts()
        } catch {
            throw .store("cannot read the intercepted hosts", error)
        }
        // Each was checked when written; one that no longer parses is left out, not fatal.
        return entries.compactMap { entry in
            (try? HostPattern(parsing: entry.host)).map { DesiredState.Intercept(host: $0, fleets: entry.fleets) }
        }
    }

    /// The list and where it comes from.
    nonisolated func interceptList() async throws(QpilotError) -> InterceptList {
        let desired = desired
        if desired.interceptFromFile {
            let loadedAt = Date(timeIntervalSince1970: 0)
            return InterceptList(
                mode: .file,
                entries: desired.tls.intercept.map {
                    InterceptEntry(host: $0.host.text, fleets: $0.fleets, updatedAt: loadedAt, updatedBy: "qpilot.yaml")
                })
        }
        do {
            return InterceptList(mode: .store, entries: try await store.intercepts())
        } catch {
            throw .store("cannot read the intercepted hosts", error)
        }
    }

    /// Adds or replaces an intercepted host and republishes.
    public func setIntercept(host: String, fleets: [String]?, actor: WriteActor) async throws(QpilotError) -> InterceptList {
        try await takingTurns { () async throws(QpilotError) -> InterceptList in
            try self.refuseWhenFileManaged()
            let pattern: HostPattern
            do throws(HostPatternError) {
                pattern = try HostPattern(parsing: host)
            } catch {
                throw QpilotError(.invalid, error.description)
            }
            if let fleets, let problem = MiddlewareRules.fleetsProblem(fleets) { throw QpilotError(.invalid, problem) }
            let current = try await self.storedIntercepts()
            guard current.count < 1000 || current.contains(where: { $0.host == pattern }) else {
                throw QpilotError(.invalid, "1000 hosts are intercepted already; a '*.domain' wildcard covers many names")
            }
            do {
                try await self.store.setIntercept(host: pattern.text, fleets: fleets, author: actor.description)
            } catch {
                throw .store("cannot write the intercepted host", error)
            }
            self.logger.info(
                "intercepted host set", metadata: ["host": "\(pattern)", "fleets": "\(fleets?.joined(separator: ",") ?? "*")", "author": "\(actor)"])
            if case .failure(let error) = await self.reloadNow() { throw error }
            return try await self.interceptList()
        }
    }

    /// Removes an intercepted host and republishes.
    public func deleteIntercept(host: String, actor: WriteActor) async throws(QpilotError) -> InterceptList {
        try await takingTurns { () async throws(QpilotError) -> InterceptList in
            try self.refuseWhenFileManaged()
            let removed: Bool
            do {
                removed = try await self.store.deleteIntercept(host: host.lowercased())
            } catch {
                throw .store("cannot delete the intercepted host", error)
            }
            guard removed else {
                throw QpilotError(.notFound, "'\(host)' is not intercepted; `qctl tls intercept list` lists the hosts")
            }
            self.logger.info("intercepted host removed", metadata: ["host": "\(host)", "author": "\(actor)"])
            if case .failure(let error) = await self.reloadNow() { throw error }
            return try await self.interceptList()
        }
    }

    private func refuseWhenFileManaged() throws(QpilotError) {
        guard !desired.interceptFromFile else {
            throw QpilotError(
                .fileMode,
                "qpilot.yaml has tls.intercept, so the file is the source of truth for intercepted hosts; edit it instead, or remove the key to manage them through the API")
        }
    }
}
