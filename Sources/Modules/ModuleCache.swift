import Crypto
import Foundation
import NIOCore
import Synchronization

/// Stored modules held in memory, each once, as a `ByteBuffer` that every response shares: NIO
/// writes a buffer by reference, so 10,000 Envoys fetching one 3.4 MB module after a push hold
/// 3.4 MB between them, not 34 GB, however slowly each reads. A module is read from the store
/// once (concurrent misses wait for the same read) and checked against its name before it is
/// served. At most `maxBytes` are held; the least recently used module goes first.
public final class ModuleCache: Sendable {
    let store: ModuleStore
    public let maxBytes: Int

    private struct Entry {
        var buffer: ByteBuffer
        var lastUse: UInt64
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var loading: [String: Task<ByteBuffer?, Never>] = [:]
        var bytes = 0
        var clock: UInt64 = 0
    }

    private let state = Mutex(State())

    public init(store: ModuleStore, maxBytes: Int = 1024 * 1024 * 1024) {
        self.store = store
        self.maxBytes = maxBytes
    }

    /// The bytes held now, for the metrics.
    public var heldBytes: Int { state.withLock { $0.bytes } }

    /// The module named `sha256`, or nil when the store has no such module (or its file no
    /// longer hashes to its name).
    public func buffer(_ sha256: String) async -> ByteBuffer? {
        guard ModuleStore.isDigest(sha256) else { return nil }
        enum Lookup {
            case hit(ByteBuffer)
            case wait(Task<ByteBuffer?, Never>)
        }
        let store = self.store
        let lookup = state.withLock { state -> Lookup in
            state.clock += 1
            if var entry = state.entries[sha256] {
                entry.lastUse = state.clock
                state.entries[sha256] = entry
                return .hit(entry.buffer)
            }
            if let task = state.loading[sha256] { return .wait(task) }
            let task = Task<ByteBuffer?, Never> {
                guard let module = store.verified(sha256) else { return nil }
                return ByteBuffer(bytes: module.bytes)
            }
            state.loading[sha256] = task
            return .wait(task)
        }
        switch lookup {
        case .hit(let buffer):
            return buffer
        case .wait(let task):
            let loaded = await task.value
            state.withLock { state in
                guard state.loading.removeValue(forKey: sha256) != nil, let loaded else { return }
                state.clock += 1
                state.entries[sha256] = Entry(buffer: loaded, lastUse: state.clock)
                state.bytes += loaded.readableBytes
                // Evict the least recently used others until the rest fits.
                while state.bytes > maxBytes,
                    let oldest = state.entries.filter({ $0.key != sha256 }).min(by: { $0.value.lastUse < $1.value.lastUse })
                {
                    state.entries.removeValue(forKey: oldest.key)
                    state.bytes -= oldest.value.buffer.readableBytes
                }
            }
            return loaded
        }
    }

    /// Forgets a module (garbage-collected from the store).
    public func forget(_ sha256: String) {
        state.withLock { state in
            if let entry = state.entries.removeValue(forKey: sha256) { state.bytes -= entry.buffer.readableBytes }
        }
    }
}
