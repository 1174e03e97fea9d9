import Crypto
import Foundation
import Logging
import PostgresNIO
import QpilotAPI
import Synchronization

extension PostgresStateStore {
    public func setSecret(name: String, value: String, author: String) async throws {
        try SQLiteStateStore.validateSecretName(name)
        let (sealed, keyID) = try keyring.withLock { try $0.seal(value, name: name) }
        let updatedAt = Milliseconds(Date()).value
        try await transaction { connection, logger in
            try await connection.run(
                """
                INSERT INTO secret (name, sealed, key_id, updated_at, updated_by)
                VALUES (\(name), \(sealed), \(keyID), \(updatedAt), \(author))
                ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, key_id = excluded.key_id,
                    updated_at = excluded.updated_at, updated_by = excluded.updated_by
                """, logger: logger)
            try await Self.bumpGeneration(connection, logger)
        }
    }

    public func deleteSecret(name: String) async throws -> Bool {
        try SQLiteStateStore.validateSecretName(name)
        return try await transaction { connection, logger in
            let deleted =
                try await Self.single(connection.query("DELETE FROM secret WHERE name = \(name) RETURNING 1", logger: logger), Int.self) != nil
            if deleted { try await Self.bumpGeneration(connection, logger) }
            return deleted
        }
    }

    public func secrets() async throws -> [SecretInfo] {
        try await query("SELECT name, updated_at, updated_by FROM secret ORDER BY name") { rows in
            var result: [SecretInfo] = []
            for try await (name, updatedAt, updatedBy) in rows.decode((String, Int64, String).self) {
                result.append(SecretInfo(name: name, updatedAt: Milliseconds(updatedAt).date, updatedBy: updatedBy))
            }
            return result
        }
    }

    public func secretValues() async throws -> [String: String] {
        let rows = try await query("SELECT name, sealed, key_id FROM secret ORDER BY name") { rows in
            var result: [(name: String, sealed: Data, keyID: String)] = []
            for try await row in rows.decode((String, Data, String).self) { result.append(row) }
            return result
        }
        let keyring = keyring.withLock { $0 }
        var values: [String: String] = [:]
        var failed: [String] = []
        for row in rows {
            do {
                values[row.name] = try keyring.open(row.sealed, keyID: row.keyID, name: row.name)
            } catch {
                failed.append(row.name)
            }
        }
        guard failed.isEmpty else {
            throw StoreError.unusable(
                "cannot decrypt secret\(failed.count == 1 ? "" : "s") \(SQLiteStateStore.quoted(failed)) in \(location) with the key file \(SQLiteStateStore.keyFileURL(in: directory).path): sealed under another key, or the stored value was altered. Every replica needs the same secrets.key; set \(failed.count == 1 ? "this secret" : "these secrets") again."
            )
        }
        return values
    }

    /// Reads this replica's key file, creating it when the database has no secrets and names no
    /// key yet, and checks that it is the key the database's secrets are sealed with.
    static func loadKeyring(client: PostgresClient, location: PostgresLocation, directory: URL, logger: Logger) async throws -> Keyring {
        let keyURL = SQLiteStateStore.keyFileURL(in: directory)
        func recordedID() async throws -> String? {
            try await run(location) {
                try await client.withConnection { connection in
                    try await Work.mark {
                        try await single(
                            connection.query("SELECT value FROM setting WHERE name = 'secretKeyID'", logger: logger), Data.self)
                    }
                }
            }.map { String(decoding: $0, as: UTF8.self) }
        }
        var key = try KeyFile.read(keyURL)
        if key == nil {
            if let recorded = try await recordedID() {
                throw StoreError.unusable(
                    "the secrets key file \(keyURL.path) is missing, but \(location) holds secrets sealed with key \(recorded); copy secrets.key (mode 0600) from another replica or a backup into the data directory"
                )
            }
            let created = SymmetricKey(size: .bits256)
            key = try KeyFile.create(created, at: keyURL) ? created : try KeyFile.read(keyURL)
        }
        guard let key else { throw StoreError.unusable("the secrets key file \(keyURL.path) vanished while it was being created") }
        let id = KeyFile.identifier(of: key)
        try await run(location) {
            try await client.withConnection { connection in
                try await Work.mark {
                    try await connection.run(
                        "INSERT INTO setting (name, value) VALUES ('secretKeyID', \(Data(id.utf8))) ON CONFLICT (name) DO NOTHING",
                        logger: logger)
                }
            }
        }
        let recorded = try await recordedID()
        guard recorded == id else {
            throw StoreError.unusable(
                "the secrets key file \(keyURL.path) (key \(id)) is not the key \(location) uses (key \(recorded ?? "none")): every replica needs the same secrets.key; copy it from a replica that runs (mode 0600)"
            )
        }
        return Keyring(current: key)
    }
}
