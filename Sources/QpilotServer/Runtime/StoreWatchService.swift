import Logging
import ServiceLifecycle
import Store

/// On a store shared by several replicas (PostgreSQL), publishes what another replica wrote: a
/// revision, a secret or an intercepted host committed anywhere changes the store's generation,
/// and this replica then reloads (the head revision, the secrets, qpilot.yaml). It learns of the
/// change from the database's notification, and within `poll` at the latest when a notification
/// was lost (a replica that was disconnected), and after every reconnection. Replicas build the
/// same snapshots, with the same versions, from the same state, so an Envoy that moves from one
/// replica to another gets no new version.
struct StoreWatchService: Service {
    let store: PostgresStateStore
    let writer: ChainWriter
    let poll: Duration
    let logger: Logger

    func run() async throws {
        // -1: the first read, right after connecting, always reloads once, which also covers a
        // write committed between this replica's first publish and the watch's start.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [store, writer, poll, logger] in
                await store.watchChanges(seen: -1, poll: poll) { generation in
                    logger.debug("the shared store changed; reloading", metadata: ["generation": "\(generation)"])
                    // A reload that failed (the store did not answer) is tried again at the next read.
                    if case .success = await writer.reload() { return true }
                    return false
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }
}
