import Foundation
import GRDB
import QpilotAPI

extension SQLiteStateStore {
    public func setIntercept(host: String, fleets: [String]?, author: String) async throws {
        let encoded = try fleets.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let updatedAt = Milliseconds(Date())
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO intercept (host, fleets, updatedAt, updatedBy) VALUES (?, ?, ?, ?)
                    ON CONFLICT(host) DO UPDATE SET
                        fleets = excluded.fleets, updatedAt = excluded.updatedAt, updatedBy = excluded.updatedBy
                    """,
                arguments: [host, encoded, updatedAt.value, author])
        }
    }

    public func deleteIntercept(host: String) async throws -> Bool {
        try await write { db in
            try db.execute(sql: "DELETE FROM intercept WHERE host = ?", arguments: [host])
            return db.changesCount > 0
        }
    }

    public func intercepts() async throws -> [InterceptEntry] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT host, fleets, updatedAt, updatedBy FROM intercept ORDER BY host").map { row in
                let fleets = try (row["fleets"] as String?).map { try JSONDecoder().decode([String].self, from: Data($0.utf8)) }
                return InterceptEntry(
                    host: row["host"], fleets: fleets, updatedAt: Milliseconds(row["updatedAt"] as Int64).date,
                    updatedBy: row["updatedBy"])
            }
        }
    }
}
