import Crypto
import Foundation
import GRDB
import QpilotAPI
import Synchronization

/// The embedded `StateStore`: one SQLite database (`state.sqlite`) and the key that encrypts its
/// secrets (`secrets.key`), both in one data directory.
///
/// Durability: the database runs in WAL mode with `synchronous=FULL`, so SQLite fsyncs the WAL
/// before a transaction's commit returns. A revision whose `commit` returned survives `kill -9`
/// and power loss. A write torn by a crash is a WAL tail without a valid commit frame, which
/// SQLite ignores on the next open, so the previous revision stays the head, intact.
///
/// One process owns a data directory at a time; a second qpilot on the same directory is not
/// supported (SQLite would keep the database consistent, but key rotation assumes one writer).
public final class SQLiteStateStore: StateStore {
    /// The database file in a data directory.
    public static func databaseURL(in directory: URL) -> URL {
        directory.appendingPathComponent("state.sqlite")
    }

    /// The key file that encrypts secrets at rest. Back it up with the database: without it the
    /// secrets cannot be opened.
    public static func keyFileURL(in directory: URL) -> URL {
        directory.appendingPathComponent("secrets.key")
    }

    /// The next key while a rotation is in flight; see `rotateKey()`.
    static func pendingKeyFileURL(in directory: URL) -> URL {
        directory.appendingPathComponent("secrets.key.next")
    }

    /// The data directory.
    public let directory: URL
    let pool: DatabasePool
    let keyring: Mutex<Keyring>

    /// Opens the store in `directory`, creating the directory (0700), the database and the key
    /// file (0600) on first start and bringing an older schema up to date.
    public init(directory: URL) throws {
        self.directory = directory
        try Self.makeDirectory(directory)
        pool = try Self.openDatabase(at: Self.databaseURL(in: directory))
        keyring = Mutex(try Self.loadKeyring(directory: directory, pool: pool))
    }

    // MARK: Revisions

    /// The newest revision, or nil before the first write.
    public func head() async throws -> Revision? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM revision ORDER BY number DESC LIMIT 1").map(Self.revision(from:))
        }
    }

    /// Writes the next revision, checking `expected` against the head in the same transaction.
    public func commit(middleware: [MiddlewareSpec], author: String, action: String, expected: Int?) async throws -> Revision {
        try await commit(middleware: middleware, author: author, action: action, expected: expected, beforeCommit: nil)
    }

    /// `commit`, with `beforeCommit` run inside the transaction after the insert, given the head
    /// as the transaction sees it; a test throws from it to show that a transaction that fails
    /// half-way leaves nothing behind.
    func commit(
        middleware: [MiddlewareSpec], author: String, action: String, expected: Int?,
        beforeCommit: (@Sendable (_ headInTransaction: Int) throws -> Void)?
    ) async throws -> Revision {
        // Encoding happens before the transaction: a chain that cannot be encoded never gets a
        // write lock.
        let json = try Self.encode(middleware)
        let createdAt = Milliseconds(Date())
        return try await write { db in
            let head = try Int.fetchOne(db, sql: "SELECT MAX(number) FROM revision") ?? 0
            if let expected, expected != head {
                throw StoreError.staleRevision(expected: expected, head: head)
            }
            let revision = Revision(
                number: head + 1, author: author, createdAt: createdAt.date, action: action, middleware: middleware)
            try db.execute(
                sql: "INSERT INTO revision (number, author, createdAt, action, middleware) VALUES (?, ?, ?, ?, ?)",
                arguments: [revision.number, author, createdAt.value, action, json])
            if let beforeCommit {
                try beforeCommit(try Int.fetchOne(db, sql: "SELECT MAX(number) FROM revision") ?? 0)
            }
            return revision
        }
    }

    /// Revisions newest first, at most `limit`, older than `before` when given.
    public func revisions(limit: Int, before: Int?) async throws -> [Revision] {
        guard limit > 0 else { return [] }
        return try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM revision WHERE number < ? ORDER BY number DESC LIMIT ?",
                arguments: [before ?? Int.max, limit]
            ).map(Self.revision(from:))
        }
    }

    /// One revision, or nil.
    public func revision(_ number: Int) async throws -> Revision? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM revision WHERE number = ?", arguments: [number]).map(Self.revision(from:))
        }
    }

    /// Deletes every revision but the latest `count`, with their rollout records. The head is
    /// never deleted, and numbers are never reused (a commit takes the highest number plus one).
    public func prune(keepingLatest count: Int) async throws -> Int {
        precondition(count > 0, "the head revision is always kept")
        return try await write { db in
            guard let head = try Int.fetchOne(db, sql: "SELECT MAX(number) FROM revision") else { return 0 }
            let oldestKept = head - count + 1
            try db.execute(sql: "DELETE FROM rollout WHERE revision < ?", arguments: [oldestKept])
            try db.execute(sql: "DELETE FROM revision WHERE number < ?", arguments: [oldestKept])
            return db.changesCount
        }
    }

    // MARK: Rollouts

    /// Saves or replaces the rollout record of a revision.
    public func saveRollout(revision: Int, record: Data) async throws {
        try await write { db in
            try db.execute(
                sql: "INSERT INTO rollout (revision, record) VALUES (?, ?) ON CONFLICT(revision) DO UPDATE SET record = excluded.record",
                arguments: [revision, record])
        }
    }

    /// The rollout record of a revision, if any.
    public func rollout(revision: Int) async throws -> Data? {
        try await read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM rollout WHERE revision = ?", arguments: [revision])
        }
    }

    // MARK: Settings

    /// The key of resource versions, made in the same transaction that first reads it.
    public func versionKey() async throws -> Data {
        try await write { db in
            if let key = try Data.fetchOne(db, sql: "SELECT value FROM setting WHERE name = 'versionKey'") { return key }
            let key = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
            try db.execute(sql: "INSERT INTO setting (name, value) VALUES ('versionKey', ?)", arguments: [key])
            return key
        }
    }

    // MARK: Rejections

    /// Saves and forgets rejections in one transaction.
    public func updateRejections(remember: [StoredRejection], forget: [(node: String, resource: String)]) async throws {
        try await write { db in
            for (node, resource) in forget {
                try db.execute(sql: "DELETE FROM rejection WHERE node = ? AND resource = ?", arguments: [node, resource])
            }
            for rejection in remember {
                try db.execute(
                    sql: """
                        INSERT INTO rejection (node, resource, version, message, at, serving) VALUES (?, ?, ?, ?, ?, ?)
                        ON CONFLICT(node, resource) DO UPDATE SET version = excluded.version, message = excluded.message,
                        at = excluded.at, serving = excluded.serving
                        """,
                    arguments: [
                        rejection.node, rejection.resource, rejection.version, rejection.message,
                        Milliseconds(rejection.at).value, rejection.serving,
                    ])
            }
        }
    }

    /// Every remembered rejection, by node and resource.
    public func rejections() async throws -> [StoredRejection] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM rejection ORDER BY node, resource").map { row in
                StoredRejection(
                    node: row["node"], resource: row["resource"], version: row["version"], message: row["message"],
                    at: Milliseconds(row["at"] as Int64).date, serving: row["serving"])
            }
        }
    }

    // MARK: Encoding

    /// Sorted keys make the stored JSON a function of the chain alone, so equal chains are equal
    /// bytes in the database and in a diff of two revisions.
    static func encode(_ middleware: [MiddlewareSpec]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(middleware), as: UTF8.self)
    }

    private static func revision(from row: Row) throws -> Revision {
        let number: Int = row["number"]
        let json: String = row["middleware"]
        let middleware: [MiddlewareSpec]
        do {
            middleware = try JSONDecoder().decode([MiddlewareSpec].self, from: Data(json.utf8))
        } catch {
            throw StoreError.unusable("revision \(number) in the state database cannot be read: \(error)")
        }
        return Revision(
            number: number, author: row["author"], createdAt: Milliseconds(row["createdAt"] as Int64).date,
            action: row["action"], middleware: middleware)
    }

    // MARK: Database access

    /// Every write takes SQLite's write lock at BEGIN (IMMEDIATE), so the head it reads cannot
    /// change before it inserts, and an error thrown anywhere in `body` rolls the whole write back.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await translatingErrors {
            try await pool.writeWithoutTransaction { db in
                try Self.inTransaction(db, body)
            }
        }
    }

    static func inTransaction<T>(_ db: Database, _ body: (Database) throws -> T) throws -> T {
        var result: T?
        try db.inTransaction(.immediate) {
            result = try body(db)
            return .commit
        }
        return result!
    }

    func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await translatingErrors { try await pool.read(body) }
    }

    /// Callers see `StoreError` (and cancellation), never GRDB's types.
    func translatingErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as DatabaseError {
            throw StoreError.unusable("the state database \(Self.databaseURL(in: directory).path) failed: \(error.message ?? "\(error)")")
        }
    }

    /// The settings durability rests on, for tests: `(journal_mode, synchronous)` of the writer.
    func durabilitySettings() async throws -> (journalMode: String, synchronous: Int) {
        try await pool.writeWithoutTransaction { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "", try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1)
        }
    }

    // MARK: Opening

    static func makeDirectory(_ directory: URL) throws {
        do {
            // An existing directory keeps its mode: it is the operator's.
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StoreError.unusable("cannot create the data directory \(directory.path): \(error.localizedDescription)")
        }
    }

    static func openDatabase(at url: URL) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.label = "qpilot.store"
        // Only matters if another process holds the lock; within this process GRDB serializes writes.
        configuration.busyMode = .timeout(10)
        do {
            let pool = try DatabasePool(path: url.path, configuration: configuration)
            // DatabasePool turns on WAL and then sets synchronous=NORMAL on its writer, which can
            // lose the last commits on power loss. FULL fsyncs the WAL at every commit. The writer
            // is one long-lived connection, so setting it here holds for the store's lifetime.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            let migrator = Migrations.migrator
            if try pool.read(migrator.hasBeenSuperseded) {
                throw StoreError.unusable(
                    "the state database \(url.path) was written by a newer qpilot; run that version, or restore a backup")
            }
            try migrator.migrate(pool)
            return pool
        } catch let error as DatabaseError {
            throw StoreError.unusable("cannot open the state database \(url.path): \(error.message ?? "\(error)")")
        }
    }
}

/// A Date stored as whole milliseconds since 1970: exact in both directions.
struct Milliseconds {
    let value: Int64
    init(_ value: Int64) { self.value = value }
    init(_ date: Date) { value = Int64((date.timeIntervalSince1970 * 1000).rounded(.down)) }
    var date: Date { Date(timeIntervalSince1970: Double(value) / 1000) }
}
