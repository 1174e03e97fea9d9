import Foundation
import QpilotAPI
import Store

/// Fresh data directories and small chains for the store tests.
enum StoreTestSupport {
    /// Runs `body` with a data directory that does not exist yet (so the store creates it) inside
    /// a new temporary directory, and removes it all afterwards.
    static func withDataDirectory(_ body: (URL) async throws -> Void) async throws {
        let parent = FileManager.default.temporaryDirectory
            .appendingPathComponent("qpilot-store-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: parent) }
        try await body(parent.appendingPathComponent("data", isDirectory: true))
    }

    static func chain(_ names: String...) -> [MiddlewareSpec] {
        names.map { MiddlewareSpec(name: $0, source: "file:///modules/\($0).wasm") }
    }

    /// The permission bits of a file.
    static func mode(of url: URL) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
        return (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }
}
