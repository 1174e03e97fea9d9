import Foundation
import Modules
import Testing

@Suite("Module store")
struct ModuleStoreTests {
    @Test("a stored module is used again only while its bytes hash to its name; a damaged one is removed")
    func verified() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ModuleStore(dataDirectory: directory)
        let module = try LoadedModule(bytes: Data([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00, 0x42]), origin: "test")
        try store.put(module)
        #expect(store.verified(module.sha256)?.bytes == module.bytes)

        // Same length, one byte changed: only the hash can tell.
        var damaged = module.bytes
        damaged[damaged.count - 1] = 0x43
        try damaged.write(to: store.path(of: module.sha256))
        #expect(store.verified(module.sha256) == nil)
        #expect(!FileManager.default.fileExists(atPath: store.path(of: module.sha256).path), "removed, so it is fetched again")
        #expect(store.verified(String(repeating: "0", count: 64)) == nil)
    }
}
