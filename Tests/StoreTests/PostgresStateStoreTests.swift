import Crypto
import Foundation
import Logging
import PostgresNIO
import PostgresTestSupport
import QpilotAPI
import Synchronization
@testable import Store
import Testing

/// What only the PostgreSQL store has to show: several stores (replicas) on one database, the
/// key every replica must share, migrations under a lock, and errors that name the database but
/// never its password. What both stores do is in the StateStore*Tests, run against each.
struct PostgresStateStoreTests {
    @Test("store URLs: the parts, sslmode, a password file that wins over the URL, and errors that hide the password")
    func locationParsing() throws {
        let plain = try PostgresLocation(url: "postgres://qpilot@db.internal/qpilot")
        #expect(plain == PostgresLocation(host: "db.internal", port: 5432, user: "qpilot", password: nil, database: "qpilot"))
        let full = try PostgresLocation(url: "postgresql://app:s3cret@[::1]:6543/state?sslmode=verify-full")
        #expect(full == PostgresLocation(host: "::1", port: 6543, user: "app", password: "s3cret", database: "state", tls: .verifyFull))
        #expect(full.description == "postgres://app@[::1]:6543/state?sslmode=verify-full", "no password in the description")

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-pw-\(UUID().uuidString)")
        try Data("from-file\nignored\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(try PostgresLocation(url: "postgres://app:in-url@h/d", passwordFile: file).password == "from-file")

        let refused: [(String, String)] = [
            ("mysql://app@h/d", "must look like"),
            ("postgres:///d", "names no host"),
            ("postgres://h/d", "names no user"),
            ("postgres://app@h/", "names no database"),
            ("postgres://app@h/d?sslmode=maybe", "sslmode 'maybe'"),
            ("postgres://app@h/d?timeout=3", "unknown parameter 'timeout'"),
        ]
        for (url, expected) in refused {
            let error = #expect(throws: StoreError.self) { try PostgresLocation(url: url) }
            #expect(error?.description.contains(expected) == true, "\(url): \(error?.description ?? "")")
        }
        let hidden = #expect(throws: StoreError.self) { try PostgresLocation(url: "mysql://app:topsecret@h/d") }
        #expect(hidden?.description.contains("topsecret") == false)
        // Not even a URL (a space and a '#' in the password): the password is still hidden.
        let unparsed = #expect(throws: StoreError.self) { try PostgresLocation(url: "postgres://app:top secret#1@h/d") }
        #expect(unparsed?.description.contains("top secret") == false, "\(unparsed?.description ?? "")")
        let missing = #expect(throws: StoreError.self) {
            try PostgresLocation(url: "postgres://app@h/d", passwordFile: URL(fileURLWithPath: "/nonexistent/pw"))
        }
        #expect(missing?.description.contains("/nonexistent/pw") == true)
    }

    @Test("two replicas on one database: concurrent commits each get their own number; with one expected head, one wins")
    func replicasShareOneHistory() async throws {
        try await StoreTestSupport.withStore(.postgres) { place in
            let first = try await place.open()
            let second = try await place.open()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<20 {
                    let store = writer.isMultiple(of: 2) ? first : second
                    group.addTask { _ = try await store.commit(middleware: [], author: "w\(writer)", action: "apply", expected: nil) }
                }
                try await group.waitForAll()
            }
            #expect(try await first.revisions(limit: 100, before: nil).map(\.number) == Array((1...20).reversed()))
            #expect(Set(try await second.revisions(limit: 100, before: nil).map(\.author)).count == 20, "no commit was lost")

            let results = await withTaskGroup(of: Bool.self) { group in
                for writer in 0..<10 {
                    let store = writer.isMultiple(of: 2) ? first : second
                    group.addTask {
                        (try? await store.commit(middleware: [], author: "x\(writer)", action: "apply", expected: 20)) != nil
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 1)
            #expect(try await second.head()?.number == 21)
        }
    }

    @Test("a commit that fails inside its transaction leaves the head and the history unchanged")
    func failedCommitLeavesNothing() async throws {
        struct Interrupted: Error {}
        try await StoreTestSupport.withStore(.postgres) { place in
            let store = try #require(try await place.open() as? PostgresStateStore)
            let head = try await store.commit(middleware: StoreTestSupport.chain("a"), author: "a", action: "push a", expected: 0)
            await #expect(throws: Interrupted.self) {
                try await store.commit(
                    middleware: StoreTestSupport.chain("b"), author: "b", action: "push b", expected: 1, beforeCommit: { throw Interrupted() })
            }
            #expect(try await store.head() == head)
            #expect(try await store.commit(middleware: [], author: "c", action: "apply", expected: 1).number == 2)
        }
    }

    @Test("every replica needs the same secrets key: without one or with another it is refused at open; with a copy it reads the secrets")
    func replicasShareTheSecretsKey() async throws {
        try await StoreTestSupport.withStore(.postgres) { place in
            let first = try await place.open()
            try await first.setSecret(name: "stripe", value: "sk_live_secret_value", author: "alice")

            let sealed = try await (first as! PostgresStateStore).query("SELECT sealed FROM secret") {
                try await PostgresStateStore.single($0, Data.self)
            }
            let sealedBytes = try #require(sealed)
            #expect(sealedBytes.range(of: Data("sk_live_secret_value".utf8)) == nil, "the database holds no plaintext")

            let location = try await place.location
            try await StoreTestSupport.withDataDirectory { other in
                let missing = await #expect(throws: StoreError.self) {
                    try await PostgresStateStore(location: location, directory: other)
                }
                #expect(missing?.description.contains("is missing") == true, "\(missing?.description ?? "")")

                try KeyFile.replace(SymmetricKey(size: .bits256), at: SQLiteStateStore.keyFileURL(in: other))
                let wrong = await #expect(throws: StoreError.self) {
                    try await PostgresStateStore(location: location, directory: other)
                }
                #expect(wrong?.description.contains("every replica needs the same secrets.key") == true, "\(wrong?.description ?? "")")

                try FileManager.default.removeItem(at: SQLiteStateStore.keyFileURL(in: other))
                try FileManager.default.copyItem(
                    at: SQLiteStateStore.keyFileURL(in: place.directory), to: SQLiteStateStore.keyFileURL(in: other))
                let replica = try await PostgresStateStore(location: location, directory: other)
                #expect(try await replica.secretValues() == ["stripe": "sk_live_secret_value"])
                await replica.close()
            }
        }
    }

    @Test("replicas opening a new database together apply the schema once; a schema from a newer qpilot is refused")
    func migrationsRunOnce() async throws {
        try await StoreTestSupport.withStore(.postgres) { place in
            let location = try await place.location
            // The first store makes the key file; the others, started together, use the same one.
            let first = try #require(try await place.open() as? PostgresStateStore)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let store = try await PostgresStateStore(location: location, directory: place.directory)
                        _ = try await store.head()
                        await store.close()
                    }
                }
                try await group.waitForAll()
            }
            let applied = try await first.query("SELECT COUNT(*) FROM qpilot_migration") { try await PostgresStateStore.single($0, Int.self) }
            #expect(applied == PostgresMigrations.all.count)

            try await first.execute("INSERT INTO qpilot_migration (version, applied_at) VALUES (999, 0)")
            let newer = await #expect(throws: StoreError.self) {
                try await PostgresStateStore(location: location, directory: place.directory)
            }
            #expect(newer?.description.contains("written by a newer qpilot") == true, "\(newer?.description ?? "")")
        }
    }

    @Test("a wrong password and a database that is not there give errors that name the database, never the password")
    func connectionErrors() async throws {
        let server = try await TestPostgres.shared()
        try await StoreTestSupport.withDataDirectory { directory in
            let wrong = PostgresLocation(
                host: server.host, port: server.port, user: server.user, password: "not-the-password", database: "postgres")
            let refused = await #expect(throws: StoreError.self) { try await PostgresStateStore(location: wrong, directory: directory) }
            let refusedText = refused?.description ?? ""
            #expect(refusedText.contains("password authentication failed"), "\(refusedText)")
            #expect(refusedText.contains(wrong.description))
            #expect(!refusedText.contains("not-the-password"))

            let nowhere = PostgresLocation(host: "127.0.0.1", port: try TestPostgres.freePort(), user: "qpilot", password: "pw", database: "x")
            let unreachable = await #expect(throws: StoreError.self) { try await PostgresStateStore(location: nowhere, directory: directory) }
            #expect(unreachable?.description.contains("cannot reach") == true, "\(unreachable?.description ?? "")")
        }
    }
}

/// How replicas learn of each other's writes.
struct PostgresChangeWatchTests {
    /// The generations a watch reported, in order.
    final class Seen: Sendable {
        let values = Mutex<[Int]>([])
        var last: Int? { values.withLock { $0.last } }
    }

    /// A watch from generation 0 that records every generation it is given and handles each.
    static func recording(_ watcher: PostgresStateStore, into seen: Seen) -> Task<Void, Never> {
        Task {
            await watcher.watchChanges(seen: 0, poll: .seconds(60)) { generation in
                seen.values.withLock { $0.append(generation) }
                return true
            }
        }
    }

    static func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<200 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting for \(what)")
    }

    @Test("a watch on one replica sees every write of another that changes what Envoy gets: commits, secrets, intercepted hosts; not token writes")
    func watchSeesOtherReplicasWrites() async throws {
        try await StoreTestSupport.withStore(.postgres) { place in
            let watcher = try #require(try await place.open() as? PostgresStateStore)
            let writer = try await place.open()
            let seen = Seen()
            let watch = Self.recording(watcher, into: seen)
            defer { watch.cancel() }
            // Give the watch its LISTEN before the first write (a write before it is caught by the first read anyway).
            try await Task.sleep(for: .milliseconds(300))

            _ = try await writer.commit(middleware: StoreTestSupport.chain("a"), author: "a", action: "push a", expected: 0)
            try await Self.waitFor("the commit") { seen.last == 1 }
            try await writer.setSecret(name: "key", value: "v", author: "a")
            try await Self.waitFor("the secret") { seen.last == 2 }
            try await writer.setIntercept(host: "api.example.com", fleets: nil, author: "a")
            try await Self.waitFor("the intercept") { seen.last == 3 }
            #expect(try await writer.deleteIntercept(host: "api.example.com"))
            #expect(try await writer.deleteSecret(name: "key"))
            try await Self.waitFor("the deletes") { seen.last == 5 }
            let beforeToken = seen.values.withLock { $0 }
            #expect(try await writer.deleteSecret(name: "key") == false, "deleting nothing changes nothing")
            try await writer.createToken(
                EnrolmentToken(id: "t", fleet: "f", node: nil, createdAt: Date(), createdBy: "a", expiresAt: Date() + 60),
                secretHash: Data(repeating: 1, count: 32))
            try await Task.sleep(for: .milliseconds(500))
            // Writes close together may come as one call with the newest generation (the reload
            // covers both); a call never repeats or goes back, and none comes for the token.
            let values = seen.values.withLock { $0 }
            #expect(Array(values.prefix(3)) == [1, 2, 3] && values.last == 5, "\(values)")
            #expect(zip(values, values.dropFirst()).allSatisfy { $0 < $1 }, "\(values)")
            #expect(values == beforeToken, "no call for a token or a delete of nothing: \(values)")
            #expect(try await watcher.generation() == 5)
        }
    }

    @Test("a change whose handling failed is offered again at the next read; a cancelled watch ends")
    func failedHandlingIsRetried() async throws {
        try await StoreTestSupport.withStore(.postgres) { place in
            let watcher = try #require(try await place.open() as? PostgresStateStore)
            let writer = try await place.open()
            let seen = Seen()
            let watch = Task {
                await watcher.watchChanges(seen: 0, poll: .milliseconds(200)) { generation in
                    // The first attempt fails, as a reload does while the store does not answer.
                    seen.values.withLock { $0.append(generation) }
                    return seen.values.withLock { $0.count } > 1
                }
            }
            _ = try await writer.commit(middleware: [], author: "a", action: "apply", expected: nil)
            try await Self.waitFor("the change, twice") { seen.values.withLock { $0 } == [1, 1] }
            try await Task.sleep(for: .milliseconds(600))
            #expect(seen.values.withLock { $0 } == [1, 1], "handled once it succeeded, then not again")

            let ended = Seen()
            watch.cancel()
            Task {
                await watch.value
                ended.values.withLock { $0.append(1) }
            }
            try await Self.waitFor("the cancelled watch to end") { ended.last == 1 }
        }
    }

    @Test("while another replica holds the commit lock, a commit fails within the limit with PostgreSQL's reason, and works once it is free")
    func commitLockWaitIsBounded() async throws {
        try await StoreTestSupport.withStore(.postgres) { place in
            let store = try await place.open()
            let location = try await place.location
            // Another replica, stuck in the middle of a commit.
            let other = try await PostgresConnection.connect(configuration: try location.connectionConfiguration(), id: 1, logger: Logger(label: "test"))
            try await other.query("BEGIN", logger: Logger(label: "test"))
            try await other.query("SELECT pg_advisory_xact_lock(\(PostgresStateStore.commitLock))", logger: Logger(label: "test"))
            let started = ContinuousClock.now
            let refused = await #expect(throws: StoreError.self) {
                try await store.commit(middleware: [], author: "a", action: "apply", expected: nil)
            }
            #expect(ContinuousClock.now - started < .seconds(15))
            #expect(refused?.description.contains("lock timeout") == true, "\(refused?.description ?? "")")
            try await other.query("ROLLBACK", logger: Logger(label: "test"))
            try await other.close()
            #expect(try await store.commit(middleware: [], author: "a", action: "apply", expected: nil).number == 1)
        }
    }

    @Test("a write made while the watch was disconnected (its notification lost) is seen once it reconnects")
    func lostNotificationIsCaughtUp() async throws {
        try await StoreTestSupport.withStore(.postgres) { place in
            let watcher = try #require(try await place.open() as? PostgresStateStore)
            let writer = try #require(try await place.open() as? PostgresStateStore)
            let seen = Seen()
            let watch = Self.recording(watcher, into: seen)
            defer { watch.cancel() }
            try await Task.sleep(for: .milliseconds(300))

            // End the watch's connection, as a failover or a network cut would, and write at once:
            // nobody listens when the notification goes out.
            let database = try #require(place.database)
            // The watch's connection is the one idle after reading the generation (the writer's
            // have not read it).
            let ended = try await TestPostgres.shared().psql(
                """
                SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = '\(database)' AND query LIKE 'SELECT generation FROM change%') AS ended
                """)
            #expect(ended == "1", "one connection, the watch's, was ended")
            _ = try await writer.commit(middleware: [], author: "a", action: "apply", expected: nil)
            try await Self.waitFor("the write, after the reconnection") { seen.last == 1 }
        }
    }
}
