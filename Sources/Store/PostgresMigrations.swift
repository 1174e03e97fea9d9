import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL schema, one migration per version, applied once under a lock by whichever
/// replica opens the database first. Never edit a shipped migration: add the next one.
///
/// The tables mirror the SQLite store's (Migrations.swift), in PostgreSQL's types: times are
/// milliseconds since 1970 (BIGINT), so a read gives back exactly the Date a write was given on
/// either store; chains are the same sorted-key JSON text, so two stores hold equal bytes for
/// equal chains.
enum PostgresMigrations {
    /// Held (transaction-scoped) while migrations run, so that replicas starting together apply
    /// each migration once. The number is arbitrary; it only has to be qpilot's own.
    static let lock: Int64 = 0x7170_696c_6f74_0001

    static let all: [(version: Int, sql: [String])] = [
        (
            1,
            [
                """
                -- One row per commit; numbers are never reused (a commit takes the highest plus one
                -- under a lock, and the head is never pruned).
                CREATE TABLE revision (
                    number BIGINT PRIMARY KEY,
                    author TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    action TEXT NOT NULL,
                    middleware TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE rollout (
                    revision BIGINT PRIMARY KEY,
                    record BYTEA NOT NULL
                )
                """,
                """
                -- AES-GCM nonce + ciphertext + tag, and the id of the key that sealed it. Every
                -- replica needs the same key file; `setting.secretKeyID` names it.
                CREATE TABLE secret (
                    name TEXT PRIMARY KEY,
                    sealed BYTEA NOT NULL,
                    key_id TEXT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    updated_by TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE rejection (
                    node TEXT NOT NULL,
                    resource TEXT NOT NULL,
                    version TEXT NOT NULL,
                    message TEXT NOT NULL,
                    at BIGINT NOT NULL,
                    serving TEXT,
                    PRIMARY KEY (node, resource)
                )
                """,
                """
                CREATE TABLE setting (
                    name TEXT PRIMARY KEY,
                    value BYTEA NOT NULL
                )
                """,
                """
                CREATE TABLE intercept (
                    host TEXT PRIMARY KEY,
                    fleets TEXT,
                    updated_at BIGINT NOT NULL,
                    updated_by TEXT NOT NULL
                )
                """,
                """
                CREATE TABLE enrolment_token (
                    id TEXT PRIMARY KEY,
                    secret_hash BYTEA NOT NULL,
                    fleet TEXT NOT NULL,
                    node TEXT,
                    created_at BIGINT NOT NULL,
                    created_by TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    used_at BIGINT,
                    used_by TEXT
                )
                """,
                """
                CREATE TABLE enrolled_node (
                    node TEXT PRIMARY KEY,
                    fleet TEXT NOT NULL,
                    enrolled_at BIGINT NOT NULL,
                    renewed_at BIGINT NOT NULL,
                    serial TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                """
                CREATE TABLE node_certificate (
                    node TEXT NOT NULL,
                    serial TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (node, serial)
                )
                """,
            ]
        ),
        (
            2,
            [
                """
                -- One row: how many writes that change what Envoy gets (revisions, secrets,
                -- intercepted hosts) have committed. Each such write adds one in its own
                -- transaction and notifies `qpilot_change`; a replica that missed a notification
                -- (it was reconnecting) sees the number move when it next polls.
                CREATE TABLE change (
                    id INT PRIMARY KEY CHECK (id = 1),
                    generation BIGINT NOT NULL
                )
                """,
                "INSERT INTO change (id, generation) VALUES (1, 0)",
            ]
        ),
    ]

    /// Brings the database up to date, in one transaction under `lock`. A database written by a
    /// newer qpilot is refused, untouched.
    static func migrate(_ client: PostgresClient, logger: Logger, describe: String) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.run("SELECT pg_advisory_xact_lock(\(lock))", logger: logger)
            try await connection.run(
                "CREATE TABLE IF NOT EXISTS qpilot_migration (version INT PRIMARY KEY, applied_at BIGINT NOT NULL)",
                logger: logger)
            var applied = 0
            for try await version in try await connection.query(
                "SELECT COALESCE(MAX(version), 0) FROM qpilot_migration", logger: logger
            ).decode(Int.self) {
                applied = version
            }
            let known = all.last?.version ?? 0
            guard applied <= known else {
                throw StoreError.unusable(
                    "the PostgreSQL database \(describe) was written by a newer qpilot (schema \(applied), this one knows \(known)); run that version, or restore a backup"
                )
            }
            for migration in all where migration.version > applied {
                for statement in migration.sql {
                    try await connection.run(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.run(
                    "INSERT INTO qpilot_migration (version, applied_at) VALUES (\(migration.version), \(Milliseconds(.now).value))",
                    logger: logger)
            }
        }
    }
}
