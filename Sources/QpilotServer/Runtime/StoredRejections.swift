import Foundation
import Logging
import ServiceLifecycle
import Store
import XDS

/// The rejections a `NodeRegistry` remembers, saved in the store: a node that refused a
/// middleware's config still shows it refused after qpilot restarts, although Envoy ACKs the
/// identical re-send (see `NodeRegistry`).
///
/// The registry hands changes over under its lock, in the order they happened; one task saves
/// them in that order, so the store never ends up with an older change over a newer one. On a
/// graceful shutdown it saves what is queued before it returns.
final class StoredRejections: RejectionLog, Service {
    let store: any StateStore
    let logger: Logger
    private let queue: AsyncStream<[RejectionChange]>
    private let continuation: AsyncStream<[RejectionChange]>.Continuation

    init(store: any StateStore, logger: Logger) {
        self.store = store
        self.logger = logger
        (queue, continuation) = AsyncStream.makeStream()
    }

    /// What the store holds, in the registry's shape: node id → resource name → rejection.
    static func load(from store: any StateStore) async throws -> [String: [String: NodeStatus.Rejection]] {
        var result: [String: [String: NodeStatus.Rejection]] = [:]
        for stored in try await store.rejections() {
            result[stored.node, default: [:]][stored.resource] = NodeStatus.Rejection(
                version: stored.version, message: stored.message, at: stored.at, serving: stored.serving)
        }
        return result
    }

    func enqueue(_ changes: [RejectionChange]) {
        continuation.yield(changes)
    }

    func run() async {
        await withGracefulShutdownHandler {
            for await changes in queue { await save(changes) }
        } onGracefulShutdown: { [continuation] in
            continuation.finish()
        }
    }

    /// Saves one batch in one transaction; the last change to a key wins.
    func save(_ changes: [RejectionChange]) async {
        var remember: [StoredRejection] = []
        var forget: [(node: String, resource: String)] = []
        for change in changes {
            switch change {
            case .remember(let node, let resource, let rejection):
                forget.removeAll { $0 == (node, resource) }
                remember.removeAll { $0.node == node && $0.resource == resource }
                remember.append(
                    StoredRejection(
                        node: node, resource: resource, version: rejection.version, message: rejection.message, at: rejection.at,
                        serving: rejection.serving))
            case .forget(let node, let resource):
                remember.removeAll { $0.node == node && $0.resource == resource }
                forget.append((node, resource))
            }
        }
        do {
            try await store.updateRejections(remember: remember, forget: forget)
        } catch {
            // Status stays right while this process runs; only a restart would forget the refusal.
            logger.warning("cannot save a node's rejected config; status after a restart may miss it", metadata: ["error": "\(error)"])
        }
    }
}
