import Crypto
import Foundation
import Logging
import PostgresNIO
import QpilotAPI
import Synchronization

/// The shared `StateStore`: one PostgreSQL database that several qpilot replicas use at once.
///
/// It keeps what the SQLite store keeps, with the same meaning, and is tested by the same tests.
/// A commit takes a transaction-scoped advisory lock before it reads the head, so commits from
/// different replicas are serialized by the database and each gets its own number. Every write
/// that changes what Envoy gets also adds one to the change generation and notifies
/// `qpilot_change` in its transaction, so other replicas learn of it when it commits
/// (`watchChanges`).
///
/// Secrets are sealed with the key file in the replica's data directory (`secrets.key`), as with
/// SQLite; every replica needs the same file. The database records the key's id
/// (`setting.secretKeyID`), so a replica started with another key is refused at once, not when it
/// first builds a config.
public final class PostgresStateStore: StateStore {
    /// The channel every write that changes what Envoy gets notifies (a commit, a secret, an
    /// intercepted host), with the new change generation as the payload.
    public static let changeChannel = "qpilot_change"
    /// Serializes commits across replicas (transaction-scoped; released by COMMIT or ROLLBACK).
    static let commitLock: Int64 = 0x7170_696c_6f74_0002

    public let location: PostgresLocation
    /// The data directory, which holds the secrets key file.
    public let directory: URL
    let client: PostgresClient
    let logger: Logger
    let keyring: Mutex<Keyring>
    private let running: Task<Void, Never>

    /// Connects, brings the schema up to date and checks the secrets key. Throws `StoreError`
    /// with what to do when the database cannot be reached, refuses the login, was written by a
    /// newer qpilot, or holds secrets sealed with another key.
    public init(location: PostgresLocation, directory: URL, logger: Logger = Logger(label: "qpilot.store")) async throws {
        self.location = location
        self.directory = directory
        self.logger = logger
        let client = PostgresClient(configuration: try location.clientConfiguration(), backgroundLogger: logger)
        self.client = client
        running = Task { await client.run() }
        do {
            try SQLiteStateStore.makeDirectory(directory)
            try await Self.run(location) {
                // One connection first: the pool retries a refused login or an unreachable server
                // for a minute and then reports only that it gave up, while this says why at once.
                let connection = try await PostgresConnection.connect(
                    configuration: try location.connectionConfiguration(), id: 0, logger: logger)
                try await connection.close()
            }
            try await Self.run(location) {
                try await Work.mark { try await PostgresMigrations.migrate(client, logger: logger, describe: location.description) }
            }
            keyring = Mutex(try await Self.loadKeyring(client: client, location: location, directory: directory, logger: logger))
        } catch {
            running.cancel()
            throw error
        }
    }

    /// Closes every connection. The store cannot be used afterwards.
    public func close() async {
        running.cancel()
        await running.value
    }

    deinit { running.cancel() }

    // MARK: Revisions

    public func head() async throws -> Revision? {
        try await query("SELECT number, author, created_at, action, middleware FROM revision ORDER BY number DESC LIMIT 1") {
            try await Self.revisions($0).first
        }
    }

    public func commit(middleware: [MiddlewareSpec], author: String, action: String, expected: Int?) async throws -> Revision {
        try await commit(middleware: middleware, author: author, action: action, expected: expected, beforeCommit: nil)
    }

    /// `commit`, with `beforeCommit` run inside the transaction after the insert; a test throws
    /// from it to show that a transaction that fails half-way leaves nothing behind.
    func commit(
        middleware: [MiddlewareSpec], author: String, action: String, expected: Int?,
        beforeCommit: (@Sendable () throws -> Void)?
    ) async throws -> Revision {
        let json = try SQLiteStateStore.encode(middleware)
        let createdAt = Milliseconds(Date())
        return try await transaction { connection, logger in
            try await connection.run("SELECT pg_advisory_xact_lock(\(Self.commitLock))", logger: logger)
            let head = try await Self.single(
                connection.query("SELECT COALESCE(MAX(number), 0) FROM revision", logger: logger), Int.self) ?? 0
            if let expected, expected != head {
                throw StoreError.staleRevision(expected: expected, head: head)
            }
            let revision = Revision(number: head + 1, author: author, createdAt: createdAt.date, action: action, middleware: middleware)
            try await connection.run(
                """
                INSERT INTO revision (number, author, created_at, action, middleware)
                VALUES (\(revision.number), \(author), \(createdAt.value), \(action), \(json))
                """, logger: logger)
            try await Self.bumpGeneration(connection, logger)
            try beforeCommit?()
            return revision
        }
    }

    public func revisions(limit: Int, before: Int?) async throws -> [Revision] {
        guard limit > 0 else { return [] }
        return try await query(
            """
            SELECT number, author, created_at, action, middleware FROM revision
            WHERE number < \(before ?? Int.max) ORDER BY number DESC LIMIT \(limit)
            """
        ) { try await Self.revisions($0) }
    }

    public func revision(_ number: Int) async throws -> Revision? {
        try await query("SELECT number, author, created_at, action, middleware FROM revision WHERE number = \(number)") {
            try await Self.revisions($0).first
        }
    }

    public func prune(keepingLatest count: Int) async throws -> Int {
        precondition(count > 0, "the head revision is always kept")
        return try await transaction { connection, logger in
            // The commit lock keeps a commit from landing between reading the head and deleting.
            try await connection.run("SELECT pg_advisory_xact_lock(\(Self.commitLock))", logger: logger)
            guard let head = try await Self.single(connection.query("SELECT MAX(number) FROM revision", logger: logger), Int?.self) ?? nil
            else { return 0 }
            let oldestKept = head - count + 1
            try await connection.run("DELETE FROM rollout WHERE revision < \(oldestKept)", logger: logger)
            return try await Self.single(
                connection.query(
                    "WITH deleted AS (DELETE FROM revision WHERE number < \(oldestKept) RETURNING 1) SELECT COUNT(*) FROM deleted",
                    logger: logger), Int.self) ?? 0
        }
    }

    // MARK: Rollouts

    public func saveRollout(revision: Int, record: Data) async throws {
        try await execute(
            """
            INSERT INTO rollout (revision, record) VALUES (\(revision), \(record))
            ON CONFLICT (revision) DO UPDATE SET record = excluded.record
            """)
    }

    public func rollout(revision: Int) async throws -> Data? {
        try await query("SELECT record FROM rollout WHERE revision = \(revision)") { try await Self.single($0, Data.self) }
    }

    // MARK: Settings

    public func versionKey() async throws -> Data {
        let key = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        // Whichever replica inserts first wins; the others read its key.
        try await execute("INSERT INTO setting (name, value) VALUES ('versionKey', \(key)) ON CONFLICT (name) DO NOTHING")
        guard let stored = try await query("SELECT value FROM setting WHERE name = 'versionKey'", { try await Self.single($0, Data.self) })
        else { throw StoreError.unusable("the version key vanished from \(location) right after it was written") }
        return stored
    }

    // MARK: Rejections

    public func updateRejections(remember: [StoredRejection], forget: [(node: String, resource: String)]) async throws {
        try await transaction { connection, logger in
            for (node, resource) in forget {
                try await connection.run("DELETE FROM rejection WHERE node = \(node) AND resource = \(resource)", logger: logger)
            }
            for rejection in remember {
                try await connection.run(
                    """
                    INSERT INTO rejection (node, resource, version, message, at, serving)
                    VALUES (\(rejection.node), \(rejection.resource), \(rejection.version), \(rejection.message),
                        \(Milliseconds(rejection.at).value), \(rejection.serving))
                    ON CONFLICT (node, resource) DO UPDATE SET version = excluded.version, message = excluded.message,
                        at = excluded.at, serving = excluded.serving
                    """, logger: logger)
            }
        }
    }

    public func rejections() async throws -> [StoredRejection] {
        try await query("SELECT node, resource, version, message, at, serving FROM rejection ORDER BY node, resource") { rows in
            var result: [StoredRejection] = []
            for try await (node, resource, version, message, at, serving) in rows.decode(
                (String, String, String, String, Int64, String?).self)
            {
                result.append(
                    StoredRejection(
                        node: node, resource: resource, version: version, message: message, at: Milliseconds(at).date, serving: serving))
            }
            return result
        }
    }

    // MARK: Intercepts

    public func setIntercept(host: String, fleets: [String]?, author: String) async throws {
        let encoded = try fleets.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let updatedAt = Milliseconds(Date()).value
        try await transaction { connection, logger in
            try await connection.run(
                """
                INSERT INTO intercept (host, fleets, updated_at, updated_by) VALUES (\(host), \(encoded), \(updatedAt), \(author))
                ON CONFLICT (host) DO UPDATE SET fleets = excluded.fleets, updated_at = excluded.updated_at, updated_by = excluded.updated_by
                """, logger: logger)
            try await Self.bumpGeneration(connection, logger)
        }
    }

    public func deleteIntercept(host: String) async throws -> Bool {
        try await transaction { connection, logger in
            let deleted =
                try await Self.single(connection.query("DELETE FROM intercept WHERE host = \(host) RETURNING 1", logger: logger), Int.self) != nil
            if deleted { try await Self.bumpGeneration(connection, logger) }
            return deleted
        }
    }

    // MARK: Changes

    /// How many writes that change what Envoy gets have committed, by any replica.
    public func generation() async throws -> Int {
        try await query("SELECT generation FROM change WHERE id = 1") { try await Self.single($0, Int.self) ?? 0 }
    }

    /// Adds one to the change generation and notifies `changeChannel`, inside the caller's
    /// transaction: both take effect when it commits, and not at all if it rolls back.
    static func bumpGeneration(_ connection: PostgresConnection, _ logger: Logger) async throws {
        try await connection.run(
            """
            WITH bumped AS (UPDATE change SET generation = generation + 1 WHERE id = 1 RETURNING generation)
            SELECT pg_notify(\(changeChannel), generation::text) FROM bumped
            """, logger: logger)
    }

    /// Calls `onChange` with the generation whenever it differs from the last one handled
    /// (starting with `seen`), until the task is cancelled. It LISTENs on a connection of its own,
    /// and because a notification sent while it was disconnected is lost, it also reads the
    /// generation every `poll` and right after each (re)connection. A generation counts as
    /// handled only when `onChange` returns true; otherwise the next read offers it again. Errors
    /// are logged and retried after a second; they never end the watch.
    public func watchChanges(seen: Int, poll: Duration, onChange: @Sendable @escaping (Int) async -> Bool) async {
        let seen = LastSeen(seen)
        let logger = self.logger
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: Self.changeChannel) { notifications in
                        // Listening first, then reading: a write that commits in between is seen
                        // by the read or by a notification, never by neither.
                        let check: @Sendable () async throws -> Void = {
                            let now = try await Self.single(
                                connection.query("SELECT generation FROM change WHERE id = 1", logger: logger), Int.self) ?? 0
                            if seen.differs(from: now), await onChange(now) { seen.record(now) }
                        }
                        try await check()
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            let (ticks, tick) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
                            group.addTask {
                                for try await _ in notifications { tick.yield() }
                                throw StoreError.unusable("the notification stream ended")
                            }
                            group.addTask {
                                while true {
                                    try await Task.sleep(for: poll)
                                    tick.yield()
                                }
                            }
                            group.addTask {
                                // A connection the server ended (a failover, a restart) may
                                // leave the notification stream open but silent. The wait on
                                // its close does not end on cancellation by itself: closing the
                                // connection ends it, and the watch is over anyway then.
                                try await withTaskCancellationHandler {
                                    try await connection.closeFuture.get()
                                } onCancel: {
                                    connection.close().whenComplete { _ in }
                                }
                                throw StoreError.unusable("the connection was closed")
                            }
                            // Ends with the first error of any of them (then the others are cancelled).
                            group.addTask { for await _ in ticks { try await check() } }
                            try await group.next()
                            group.cancelAll()
                        }
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "cannot watch the PostgreSQL store for changes; retrying",
                    metadata: ["database": "\(location)", "error": "\(Self.translated(error, location))"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    public func intercepts() async throws -> [InterceptEntry] {
        try await query("SELECT host, fleets, updated_at, updated_by FROM intercept ORDER BY host") { rows in
            var result: [InterceptEntry] = []
            for try await (host, fleets, updatedAt, updatedBy) in rows.decode((String, String?, Int64, String).self) {
                result.append(
                    InterceptEntry(
                        host: host, fleets: try fleets.map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) },
                        updatedAt: Milliseconds(updatedAt).date, updatedBy: updatedBy))
            }
            return result
        }
    }

    // MARK: Database access

    /// How long one operation may wait for the database before it fails (as `StoreError`): while
    /// the database is down, a write fails promptly with a clear error and never hangs a request.
    /// A commit that times out after COMMIT was sent may still have landed; a client that retries
    /// with its expected head then gets `staleRevision`, never a duplicate.
    static let operationLimit = Duration.seconds(10)

    /// Runs `body` in a transaction: an error anywhere rolls all of it back.
    func transaction<T: Sendable>(
        _ body: @Sendable @escaping (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        return try await Self.run(location) {
            try await self.client.withTransaction(logger: logger) { connection in
                try await Work.mark { try await body(connection, logger) }
            }
        }
    }

    /// Runs one statement and hands its rows to `body`.
    func query<T: Sendable>(
        _ query: PostgresQuery, _ body: @Sendable @escaping (PostgresRowSequence) async throws -> T
    ) async throws -> T {
        let logger = self.logger
        return try await Self.run(location) {
            try await self.client.withConnection { connection in
                try await Work.mark { try await body(try await connection.query(query, logger: logger)) }
            }
        }
    }

    func execute(_ query: PostgresQuery) async throws {
        try await self.query(query) { rows in for try await _ in rows {} }
    }

    /// An error thrown by the work on a connection, as opposed to one from getting a connection
    /// (the pool's errors, which mean the database cannot be reached).
    struct Work: Error {
        let error: any Error

        static func mark<T>(_ body: () async throws -> T) async throws -> T {
            do { return try await body() } catch { throw Work(error: error) }
        }
    }

    struct TimedOut: Error {}

    /// A continuation resumed by whichever comes first, the work or the limit.
    final class Answer<T: Sendable>: Sendable {
        private let continuation: Mutex<CheckedContinuation<T, any Error>?>
        init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = Mutex(continuation) }
        func resume(with result: Result<T, any Error>) { continuation.withLock { $0.take() }?.resume(with: result) }
    }

    /// Runs `body` within `operationLimit`, and gives the caller `StoreError` for what the
    /// database or the pool said (naming the database, never its password), or the error the
    /// work itself threw.
    static func run<T: Sendable>(_ location: PostgresLocation, _ body: @Sendable @escaping () async throws -> T) async throws -> T {
        // Not a task group: a group waits for all its children, and a query on a connection cut
        // off from the server ignores cancellation until TCP notices (the server's
        // statement_timeout covers a server that answers). The caller gets its answer at the limit;
        // the work is cancelled and ends on its own.
        let work = Task { try await body() }
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                    let answer = Answer(continuation)
                    let timer = Task {
                        try await Task.sleep(for: operationLimit)
                        work.cancel()
                        answer.resume(with: .failure(TimedOut()))
                    }
                    Task {
                        let result = await work.result
                        timer.cancel()
                        answer.resume(with: result)
                    }
                }
            } onCancel: {
                work.cancel()
            }
        } catch {
            throw translated(error, location)
        }
    }

    /// What a caller sees for an error from postgres-nio or from the work.
    static func translated(_ error: any Error, _ location: PostgresLocation) -> any Error {
        switch error {
        case let error as Work:
            // The work's own errors reach the caller as they are; the database's are explained.
            switch error.error {
            case is PSQLError, is PostgresDecodingError, is PostgresTransactionError: return translated(error.error, location)
            default: return error.error
            }
        case let error as PostgresTransactionError:
            // What went wrong first: the work's error (rolled back), else BEGIN's or COMMIT's.
            return translated(error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError ?? error, location)
        case let error as PSQLError:
            return StoreError.unusable("the PostgreSQL database \(location) failed: \(explain(error))")
        case is TimedOut:
            return StoreError.unusable(
                "the PostgreSQL database \(location) did not answer within \(operationLimit.components.seconds) s; check that it runs and that this machine reaches it"
            )
        case is StoreError, is CancellationError, is EncodingError, is DecodingError:
            return error
        case let error as PostgresDecodingError:
            return StoreError.unusable(
                "the PostgreSQL database \(location) returned a value qpilot cannot read (\(error.targetType) from \(error.postgresType)); was its schema changed by hand?")
        case _ where Task.isCancelled:
            // The pool ends a cancelled wait for a connection with its own error.
            return CancellationError()
        default:
            // The pool's own errors (its circuit breaker gave up opening connections).
            return StoreError.unusable(
                "the PostgreSQL database \(location) cannot be reached (\(error)); check that it runs and that this machine reaches it")
        }
    }

    /// The generation a watch handled last.
    final class LastSeen: Sendable {
        private let value: Mutex<Int>
        init(_ value: Int) { self.value = Mutex(value) }
        func differs(from now: Int) -> Bool { value.withLock { $0 != now } }
        func record(_ now: Int) { value.withLock { $0 = now } }
    }

    /// The first column of the first row, or nil when there is no row.
    static func single<T: PostgresDecodable & Sendable>(_ rows: PostgresRowSequence, _ type: T.Type) async throws -> T? {
        for try await value in rows.decode(T.self) { return value }
        return nil
    }

    static func revisions(_ rows: PostgresRowSequence) async throws -> [Revision] {
        var result: [Revision] = []
        for try await (number, author, createdAt, action, json) in rows.decode((Int, String, Int64, String, String).self) {
            let middleware: [MiddlewareSpec]
            do {
                middleware = try JSONDecoder().decode([MiddlewareSpec].self, from: Data(json.utf8))
            } catch {
                throw StoreError.unusable("revision \(number) in the state database cannot be read: \(error)")
            }
            result.append(
                Revision(number: number, author: author, createdAt: Milliseconds(createdAt).date, action: action, middleware: middleware))
        }
        return result
    }

    static func explain(_ error: PSQLError) -> String {
        if let message = error.serverInfo?[.message] {
            let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            return message + state
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown:
            return "cannot reach it (\(error.underlying.map { "\($0)" } ?? "\(error.code)")); check that it runs and that the address is right"
        default:
            return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        }
    }
}

extension PostgresConnection {
    /// Runs a statement whose rows, if any, do not matter, and reads them to the end: postgres-nio
    /// reports a statement's error (a lock timeout, say) while its rows are read, so a statement
    /// whose result is dropped unread would let its transaction go on, aborted, into the next one.
    func run(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}
