import QpilotAPI

/// How each write changes the chain. Pure: the writer reads the head, applies the edit, and
/// commits the result as one revision.
enum ChainEdit {
    /// The new chain and the revision's action text. `rollbackChain` is the chain of the
    /// revision a rollback names (the writer reads it from the store).
    static func apply(
        _ write: ChainWrite, to chain: [MiddlewareSpec], rollbackChain: [MiddlewareSpec]? = nil
    ) throws(QpilotError) -> (chain: [MiddlewareSpec], action: String) {
        switch write {
        case .put(let spec):
            var chain = chain
            if let index = chain.firstIndex(where: { $0.name == spec.name }) {
                chain[index] = spec
            } else {
                chain.append(spec)
            }
            return (chain, "push \(spec.name)")
        case .create(let spec):
            guard !chain.contains(where: { $0.name == spec.name }) else {
                throw QpilotError(
                    .duplicate, "a middleware named '\(spec.name)' exists; replace it with PUT /v1/middleware/\(spec.name) (qctl push)")
            }
            return (chain + [spec], "create \(spec.name)")
        case .delete(let name):
            guard chain.contains(where: { $0.name == name }) else { throw notFound(name) }
            return (chain.filter { $0.name != name }, "delete \(name)")
        case .setEnabled(let name, let enabled):
            guard let index = chain.firstIndex(where: { $0.name == name }) else { throw notFound(name) }
            var chain = chain
            // Enabled is the default: store nil rather than true, so enable after disable gives
            // back exactly the document that was pushed.
            chain[index].enabled = enabled ? nil : false
            return (chain, "\(enabled ? "enable" : "disable") \(name)")
        case .apply(let specs):
            var seen: Set<String> = []
            for spec in specs where !seen.insert(spec.name).inserted {
                throw QpilotError(
                    .duplicate, "the document names '\(spec.name)' twice; each middleware name appears once",
                    details: ["name": spec.name])
            }
            return (specs, "apply (\(specs.count) middleware)")
        case .rollback(let number):
            guard let rollbackChain else {
                throw QpilotError.unknownRevision(number)
            }
            return (rollbackChain, "rollback to \(number)")
        }
    }

    static func notFound(_ name: String) -> QpilotError {
        QpilotError(.notFound, "no middleware named '\(name)'; `qctl get` lists them")
    }
}
