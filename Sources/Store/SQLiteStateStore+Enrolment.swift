import Crypto
import Foundation
import GRDB

extension SQLiteStateStore {
    public func createToken(_ token: EnrolmentToken, secretHash: Data) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO enrolmentToken (id, secretHash, fleet, node, createdAt, createdBy, expiresAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    token.id, secretHash, token.fleet, token.node, Milliseconds(token.createdAt).value, token.createdBy,
                    Milliseconds(token.expiresAt).value,
                ])
        }
    }

    public func redeemToken(id: String, secretHash: Data, node: String, now: Date) async throws -> TokenRedemption {
        try await write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM enrolmentToken WHERE id = ?", arguments: [id]),
                Self.equalInConstantTime(row["secretHash"] as Data, secretHash)
            else { return .unknown }
            if let usedAt = row["usedAt"] as Int64? {
                return .used(at: Milliseconds(usedAt).date, by: row["usedBy"] ?? "")
            }
            let expiresAt = Milliseconds(row["expiresAt"] as Int64).date
            guard now < expiresAt else { return .expired(at: expiresAt) }
            let only = row["node"] as String?
            if let only, only != node { return .otherNode(only) }
            if only == nil, try Bool.fetchOne(db, sql: "SELECT 1 FROM enrolledNode WHERE node = ?", arguments: [node]) == true {
                return .needsNodeToken
            }
            try db.execute(
                sql: "UPDATE enrolmentToken SET usedAt = ?, usedBy = ? WHERE id = ? AND usedAt IS NULL",
                arguments: [Milliseconds(now).value, node, id])
            return db.changesCount == 1 ? .accepted(fleet: row["fleet"]) : .used(at: now, by: node)
        }
    }

    public func tokens() async throws -> [EnrolmentToken] {
        let now = Milliseconds(Date()).value
        return try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM enrolmentToken WHERE usedAt IS NULL AND expiresAt > ? ORDER BY createdAt DESC",
                arguments: [now]
            ).map { row in
                EnrolmentToken(
                    id: row["id"], fleet: row["fleet"], node: row["node"], createdAt: Milliseconds(row["createdAt"] as Int64).date,
                    createdBy: row["createdBy"], expiresAt: Milliseconds(row["expiresAt"] as Int64).date)
            }
        }
    }

    public func recordCertificate(
        node: String, fleet: String, serial: String, expiresAt: Date, renewal: Bool, at: Date
    ) async throws {
        let at = Milliseconds(at).value
        let expires = Milliseconds(expiresAt).value
        try await write { db in
            if renewal {
                try db.execute(
                    sql: "UPDATE enrolledNode SET renewedAt = ?, serial = ?, expiresAt = ? WHERE node = ?",
                    arguments: [at, serial, expires, node])
                try db.execute(sql: "DELETE FROM nodeCertificate WHERE node = ? AND expiresAt <= ?", arguments: [node, at])
            } else {
                try db.execute(sql: "DELETE FROM nodeCertificate WHERE node = ?", arguments: [node])
                try db.execute(
                    sql: """
                        INSERT INTO enrolledNode (node, fleet, enrolledAt, renewedAt, serial, expiresAt, revokedAt)
                        VALUES (?, ?, ?, ?, ?, ?, NULL)
                        ON CONFLICT(node) DO UPDATE SET fleet = excluded.fleet, enrolledAt = excluded.enrolledAt,
                            renewedAt = excluded.renewedAt, serial = excluded.serial, expiresAt = excluded.expiresAt,
                            revokedAt = NULL
                        """,
                    arguments: [node, fleet, at, at, serial, expires])
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO nodeCertificate (node, serial, expiresAt) VALUES (?, ?, ?)",
                arguments: [node, serial, expires])
        }
    }

    public func certificates(of node: String, now: Date) async throws -> (revoked: Bool, serials: Set<String>)? {
        let now = Milliseconds(now).value
        return try await read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT revokedAt FROM enrolledNode WHERE node = ?", arguments: [node]) else {
                return nil
            }
            let serials = try String.fetchAll(
                db, sql: "SELECT serial FROM nodeCertificate WHERE node = ? AND expiresAt > ?", arguments: [node, now])
            return ((row["revokedAt"] as Int64?) != nil, Set(serials))
        }
    }

    public func allCertificates(now: Date) async throws -> [String: (revoked: Bool, serials: Set<String>)] {
        let now = Milliseconds(now).value
        return try await read { db in
            var result: [String: (revoked: Bool, serials: Set<String>)] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT node, revokedAt FROM enrolledNode") {
                result[row["node"]] = ((row["revokedAt"] as Int64?) != nil, [])
            }
            for row in try Row.fetchAll(db, sql: "SELECT node, serial FROM nodeCertificate WHERE expiresAt > ?", arguments: [now]) {
                result[row["node"], default: (false, [])].serials.insert(row["serial"])
            }
            return result
        }
    }

    public func revokeNode(_ node: String, at: Date) async throws -> Bool {
        let at = Milliseconds(at).value
        return try await write { db in
            try db.execute(
                sql: "UPDATE enrolledNode SET revokedAt = COALESCE(revokedAt, ?) WHERE node = ?", arguments: [at, node])
            return db.changesCount > 0
        }
    }

    public func enrolledNodes() async throws -> [EnrolledNode] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM enrolledNode ORDER BY node").map { row in
                EnrolledNode(
                    node: row["node"], fleet: row["fleet"], enrolledAt: Milliseconds(row["enrolledAt"] as Int64).date,
                    renewedAt: Milliseconds(row["renewedAt"] as Int64).date, serial: row["serial"],
                    expiresAt: Milliseconds(row["expiresAt"] as Int64).date,
                    revokedAt: (row["revokedAt"] as Int64?).map { Milliseconds($0).date })
            }
        }
    }

    /// Compares two digests without stopping at the first difference.
    static func equalInConstantTime(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
