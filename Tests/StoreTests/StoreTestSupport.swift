import Foundation
import PostgresTestSupport
import QpilotAPI
import Store
import Synchronization
import Testing

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

/// The two stores, for tests that must hold for both.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }
}

/// Where a test's store keeps its state: a data directory, and for PostgreSQL also a fresh
/// database on the test process's server. `open()` again is "a restart": a new store on the
/// same state.
final class StorePlace: Sendable {
    let kind: StoreKind
    let directory: URL
    let database: String?
    private let opened = Mutex<[PostgresStateStore]>([])

    init(kind: StoreKind, directory: URL) async throws {
        self.kind = kind
        self.directory = directory
        database = kind == .postgres ? try await TestPostgres.shared().createDatabase(prefix: "store") : nil
    }

    var location: PostgresLocation {
        get async throws {
            let server = try await TestPostgres.shared()
            return try PostgresLocation(url: server.url(database: database ?? "postgres"), passwordFile: server.passwordFile)
        }
    }

    func open() async throws -> any StateStore {
        switch kind {
        case .sqlite:
            return try SQLiteStateStore(directory: directory)
        case .postgres:
            let store = try await PostgresStateStore(location: try await location, directory: directory)
            opened.withLock { $0.append(store) }
            return store
        }
    }

    func closeAll() async {
        for store in opened.withLock({ $0 }) { await store.close() }
    }
}

extension StoreTestSupport {
    /// Runs `body` with a new place for a store of `kind`, and closes what it opened afterwards.
    static func withStore(_ kind: StoreKind, _ body: (StorePlace) async throws -> Void) async throws {
        try await withDataDirectory { directory in
            let place = try await StorePlace(kind: kind, directory: directory)
            do {
                try await body(place)
            } catch {
                await place.closeAll()
                throw error
            }
            await place.closeAll()
        }
    }
}
