import Foundation
import Modules
import NIOCore
import Testing

@Suite("Module cache of the module endpoint")
struct ModuleCacheTests {
    static func module(_ tail: UInt8, size: Int = 1000) throws -> LoadedModule {
        try LoadedModule(bytes: Data([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00] + [UInt8](repeating: tail, count: size)), origin: "test")
    }

    static func withStore(_ body: (ModuleStore) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try await body(try ModuleStore(dataDirectory: directory))
    }

    @Test("concurrent requests for one module share one buffer; the file is read once, even if it changes later")
    func sharedOnce() async throws {
        try await Self.withStore { store in
            let module = try Self.module(1)
            try store.put(module)
            let cache = ModuleCache(store: store)
            let buffers = await withTaskGroup(of: ByteBuffer?.self) { group in
                for _ in 0..<50 { group.addTask { await cache.buffer(module.sha256) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(buffers.allSatisfy { $0.map { Data($0.readableBytesView) } == module.bytes })
            #expect(cache.heldBytes == module.bytes.count, "held once")
            // Served from memory now: removing the file does not change the answer.
            try FileManager.default.removeItem(at: store.path(of: module.sha256))
            #expect(await cache.buffer(module.sha256).map { Data($0.readableBytesView) } == module.bytes)
            cache.forget(module.sha256)
            #expect(cache.heldBytes == 0)
            #expect(await cache.buffer(module.sha256) == nil, "forgotten, and gone from the store")
        }
    }

    @Test("a damaged file is never served; unknown or malformed names are nil")
    func verified() async throws {
        try await Self.withStore { store in
            let module = try Self.module(2)
            try store.put(module)
            var damaged = module.bytes
            damaged[damaged.count - 1] ^= 0xFF
            try damaged.write(to: store.path(of: module.sha256))
            let cache = ModuleCache(store: store)
            #expect(await cache.buffer(module.sha256) == nil)
            #expect(await cache.buffer(String(repeating: "0", count: 64)) == nil)
            #expect(await cache.buffer("../../etc/passwd") == nil)
            #expect(cache.heldBytes == 0)
        }
    }

    @Test("past maxBytes the least recently used module is dropped, and read again when asked")
    func evicts() async throws {
        try await Self.withStore { store in
            let a = try Self.module(3, size: 600)
            let b = try Self.module(4, size: 600)
            let c = try Self.module(5, size: 600)
            for module in [a, b, c] { try store.put(module) }
            let cache = ModuleCache(store: store, maxBytes: 1300)
            _ = await cache.buffer(a.sha256)
            _ = await cache.buffer(b.sha256)
            _ = await cache.buffer(a.sha256)  // a is now the more recent
            _ = await cache.buffer(c.sha256)  // b goes
            #expect(cache.heldBytes == a.bytes.count + c.bytes.count)
            #expect(await cache.buffer(b.sha256).map { Data($0.readableBytesView) } == b.bytes)
            #expect(cache.heldBytes <= 1300)
        }
    }
}
