import Crypto
import Foundation
import GRDB
import QpilotAPI
import Synchronization

extension SQLiteStateStore {
    /// Seals `value` under the current key and stores it, replacing any earlier value.
    public func setSecret(name: String, value: String, author: String) async throws {
        try Self.validateSecretName(name)
        let updatedAt = Milliseconds(Date())
        try await write { db in
            // Sealing inside the write keeps it ordered with `rotateKey`, which holds the writer
            // while it swaps keys: a value is sealed either before the rotation (and re-sealed by
            // it) or after it, under the new key.
            let (sealed, keyID) = try self.keyring.withLock { try $0.seal(value, name: name) }
            try db.execute(
                sql: """
                    INSERT INTO secret (name, sealed, keyID, updatedAt, updatedBy) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(name) DO UPDATE SET
                        sealed = excluded.sealed, keyID = excluded.keyID,
                        updatedAt = excluded.updatedAt, updatedBy = excluded.updatedBy
                    """,
                arguments: [name, sealed, keyID, updatedAt.value, author])
        }
    }

    /// Removes a secret; false when there was none.
    public func deleteSecret(name: String) async throws -> Bool {
        try Self.validateSecretName(name)
        return try await write { db in
            try db.execute(sql: "DELETE FROM secret WHERE name = ?", arguments: [name])
            return db.changesCount > 0
        }
    }

    /// Secret names and when they changed, sorted by name.
    public func secrets() async throws -> [SecretInfo] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT name, updatedAt, updatedBy FROM secret ORDER BY name").map { row in
                SecretInfo(name: row["name"], updatedAt: Milliseconds(row["updatedAt"] as Int64).date, updatedBy: row["updatedBy"])
            }
        }
    }

    /// Every secret, decrypted. Throws one error naming every secret that does not open.
    public func secretValues() async throws -> [String: String] {
        let rows = try await read { db in
            try Row.fetchAll(db, sql: "SELECT name, sealed, keyID FROM secret ORDER BY name").map { row in
                (name: row["name"] as String, sealed: row["sealed"] as Data, keyID: row["keyID"] as String)
            }
        }
        // The keyring is read after the rows: a rotation that committed in between added the new
        // key and kept the old one, so these rows open either way.
        let keyring = keyring.withLock { $0 }
        var values: [String: String] = [:]
        var unknownKey: [String] = []
        var notAuthentic: [String] = []
        for row in rows {
            do {
                values[row.name] = try keyring.open(row.sealed, keyID: row.keyID, name: row.name)
            } catch .unknownKey {
                unknownKey.append(row.name)
            } catch .notAuthentic {
                notAuthentic.append(row.name)
            }
        }
        let keyPath = Self.keyFileURL(in: directory).path
        if !unknownKey.isEmpty {
            throw StoreError.unusable(
                "cannot decrypt secret\(unknownKey.count == 1 ? "" : "s") \(Self.quoted(unknownKey)): sealed under another key; the key file \(keyPath) does not match the database (was it replaced?). Restore the original key file, or set \(unknownKey.count == 1 ? "this secret" : "these secrets") again."
            )
        }
        if !notAuthentic.isEmpty {
            throw StoreError.unusable(
                "cannot decrypt secret\(notAuthentic.count == 1 ? "" : "s") \(Self.quoted(notAuthentic)) with the key file \(keyPath): the key file does not match, or the stored value was altered. Set \(notAuthentic.count == 1 ? "this secret" : "these secrets") again."
            )
        }
        return values
    }

    /// Re-seals every secret under a new random key and replaces the key file.
    ///
    /// Crash safety: the new key is first written in full to `secrets.key.next` (0600, fsynced).
    /// Then one transaction re-seals every secret under it, recording the new key's id with each
    /// value. Then `secrets.key.next` is renamed over `secrets.key`. If the process dies before the
    /// transaction commits, the database still names the old key and the next start deletes
    /// `secrets.key.next`; if it dies after the commit but before the rename, the database names
    /// the new key and the next start finishes the rename. Either way every secret opens.
    public func rotateKey() async throws {
        try await rotateKey(beforeRename: {})
    }

    /// `rotateKey`, with `beforeRename` run between the commit and the rename; a test throws from
    /// it to stand for a crash in that window.
    func rotateKey(beforeRename: @escaping @Sendable () throws -> Void) async throws {
        let newKey = SymmetricKey(size: .bits256)
        let newID = KeyFile.identifier(of: newKey)
        let keyURL = Self.keyFileURL(in: directory)
        let pendingURL = Self.pendingKeyFileURL(in: directory)
        try await translatingErrors {
            // Holding the writer for the whole rotation keeps `setSecret` from sealing under the
            // old key after the re-seal has read the table.
            try await pool.writeWithoutTransaction { db in
                // A rotation whose rename failed earlier in this process left the key the
                // database uses in `secrets.key.next`; put it in place before overwriting that file.
                try Self.settlePendingKey(in: self.directory, db)
                try KeyFile.replace(newKey, at: pendingURL)
                do {
                    try Self.inTransaction(db) { db in
                        try self.reseal(db, under: newKey, id: newID)
                    }
                } catch {
                    unlink(pendingURL.path)
                    throw error
                }
                // From here the database needs the new key, whatever happens to the files.
                self.keyring.withLock { $0.rotate(to: newKey) }
                try beforeRename()
                try KeyFile.move(pendingURL, to: keyURL)
            }
        }
    }

    private func reseal(_ db: Database, under newKey: SymmetricKey, id newID: String) throws {
        let keyring = keyring.withLock { $0 }
        let sealer = Keyring(current: newKey)
        let rows = try Row.fetchAll(db, sql: "SELECT name, sealed, keyID FROM secret")
        for row in rows {
            let name: String = row["name"]
            let value: String
            do {
                value = try keyring.open(row["sealed"], keyID: row["keyID"], name: name)
            } catch {
                // Re-sealing would lose the value for good; stop and leave everything as it was.
                throw StoreError.unusable(
                    "cannot rotate the secrets key: secret '\(name)' does not open with the key file \(Self.keyFileURL(in: directory).path); set it again or delete it first"
                )
            }
            let (sealed, _) = try sealer.seal(value, name: name)
            try db.execute(sql: "UPDATE secret SET sealed = ?, keyID = ? WHERE name = ?", arguments: [sealed, newID, name])
        }
    }

    // MARK: Names

    /// 1–63 ASCII letters, digits, '-', '_' and '.': safe in a URL path, a file name and a
    /// `${secret:NAME}` reference.
    static func validateSecretName(_ name: String) throws {
        let allowed = name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                true
            default: false
            }
        }
        guard allowed, (1...63).contains(name.utf8.count) else { throw StoreError.invalidName(name) }
    }

    static func quoted(_ names: [String]) -> String {
        names.map { "'\($0)'" }.joined(separator: ", ")
    }

    // MARK: Opening

    /// Finishes or undoes a rotation that stopped between writing `secrets.key.next` and renaming
    /// it: finished when the database holds values sealed under it (the re-seal committed),
    /// undone otherwise.
    static func settlePendingKey(in directory: URL, _ db: Database) throws {
        let pendingURL = pendingKeyFileURL(in: directory)
        // The pending file is renamed into place whole, so it is never half-written.
        guard let pending = try KeyFile.read(pendingURL) else { return }
        let sealedUnderPending =
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM secret WHERE keyID = ?", arguments: [KeyFile.identifier(of: pending)]) ?? 0
        if sealedUnderPending > 0 {
            try KeyFile.move(pendingURL, to: keyFileURL(in: directory))
        } else {
            unlink(pendingURL.path)
        }
    }

    /// Finishes or undoes a rotation that a crash interrupted, then reads the key, creating it
    /// on first start.
    static func loadKeyring(directory: URL, pool: DatabasePool) throws -> Keyring {
        let keyURL = keyFileURL(in: directory)
        try pool.read { db in try settlePendingKey(in: directory, db) }
        if let key = try KeyFile.read(keyURL) { return Keyring(current: key) }

        // A new key would make every sealed value unreadable and the error would only show later,
        // when config is built; stop here, where the cause is plain.
        let sealed = try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM secret") ?? 0 }
        guard sealed == 0 else {
            let database = databaseURL(in: directory).path
            throw StoreError.unusable(
                "the secrets key file \(keyURL.path) is missing, but \(database) holds \(sealed) secret\(sealed == 1 ? "" : "s") sealed with it; restore the key file from a backup (mode 0600). If it is lost for good, run `qpilot secret forget-all --yes` with this qpilot.yaml, then set each secret again with `qpilot secret set`."
            )
        }
        let key = SymmetricKey(size: .bits256)
        if try KeyFile.create(key, at: keyURL) { return Keyring(current: key) }
        // Another process created it between our read and our create.
        guard let existing = try KeyFile.read(keyURL) else {
            throw StoreError.unusable("the secrets key file \(keyURL.path) vanished while it was being created")
        }
        return Keyring(current: existing)
    }
}

extension SQLiteStateStore {
    /// Deletes every sealed secret, and the key files, without opening them: the way back when the
    /// key is lost for good. Revisions and rollout records stay. Returns how many were deleted.
    /// Run it with no qpilot on the directory (hold its `DirectoryLock`).
    public static func forgetSecrets(in directory: URL) throws -> Int {
        let pool = try openDatabase(at: databaseURL(in: directory))
        let deleted = try pool.write { db in
            let count = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM secret") ?? 0
            try db.execute(sql: "DELETE FROM secret")
            return count
        }
        for url in [keyFileURL(in: directory), pendingKeyFileURL(in: directory)] { unlink(url.path) }
        return deleted
    }
}
