import Foundation
import PostgresNIO

extension PostgresStateStore {
    public func createToken(_ token: EnrolmentToken, secretHash: Data) async throws {
        try await execute(
            """
            INSERT INTO enrolment_token (id, secret_hash, fleet, node, created_at, created_by, expires_at)
            VALUES (\(token.id), \(secretHash), \(token.fleet), \(token.node), \(Milliseconds(token.createdAt).value),
                \(token.createdBy), \(Milliseconds(token.expiresAt).value))
            """)
    }

    public func redeemToken(id: String, secretHash: Data, node: String, now: Date) async throws -> TokenRedemption {
        try await transaction { connection, logger in
            // FOR UPDATE: two replicas redeeming one token at once are served one after the other.
            let rows = try await connection.query(
                "SELECT secret_hash, fleet, node, expires_at, used_at, used_by FROM enrolment_token WHERE id = \(id) FOR UPDATE",
                logger: logger)
            var found: (Data, String, String?, Int64, Int64?, String?)?
            for try await row in rows.decode((Data, String, String?, Int64, Int64?, String?).self) { found = row }
            guard let (hash, fleet, only, expiresAt, usedAt, usedBy) = found,
                SQLiteStateStore.equalInConstantTime(hash, secretHash)
            else { return .unknown }
            if let usedAt { return .used(at: Milliseconds(usedAt).date, by: usedBy ?? "") }
            let expires = Milliseconds(expiresAt).date
            guard now < expires else { return .expired(at: expires) }
            if let only, only != node { return .otherNode(only) }
            if only == nil {
                let enrolled = try await Self.single(
                    connection.query("SELECT 1 FROM enrolled_node WHERE node = \(node)", logger: logger), Int.self)
                if enrolled != nil { return .needsNodeToken }
            }
            try await connection.run(
                "UPDATE enrolment_token SET used_at = \(Milliseconds(now).value), used_by = \(node) WHERE id = \(id)", logger: logger)
            return .accepted(fleet: fleet)
        }
    }

    public func tokens() async throws -> [EnrolmentToken] {
        try await query(
            """
            SELECT id, fleet, node, created_at, created_by, expires_at FROM enrolment_token
            WHERE used_at IS NULL AND expires_at > \(Milliseconds(Date()).value) ORDER BY created_at DESC
            """
        ) { rows in
            var result: [EnrolmentToken] = []
            for try await (id, fleet, node, createdAt, createdBy, expiresAt) in rows.decode(
                (String, String, String?, Int64, String, Int64).self)
            {
                result.append(
                    EnrolmentToken(
                        id: id, fleet: fleet, node: node, createdAt: Milliseconds(createdAt).date, createdBy: createdBy,
                        expiresAt: Milliseconds(expiresAt).date))
            }
            return result
        }
    }

    public func recordCertificate(node: String, fleet: String, serial: String, expiresAt: Date, renewal: Bool, at: Date) async throws {
        let at = Milliseconds(at).value
        let expires = Milliseconds(expiresAt).value
        try await transaction { connection, logger in
            if renewal {
                try await connection.run(
                    "UPDATE enrolled_node SET renewed_at = \(at), serial = \(serial), expires_at = \(expires) WHERE node = \(node)",
                    logger: logger)
                try await connection.run(
                    "DELETE FROM node_certificate WHERE node = \(node) AND expires_at <= \(at)", logger: logger)
            } else {
                try await connection.run("DELETE FROM node_certificate WHERE node = \(node)", logger: logger)
                try await connection.run(
                    """
                    INSERT INTO enrolled_node (node, fleet, enrolled_at, renewed_at, serial, expires_at, revoked_at)
                    VALUES (\(node), \(fleet), \(at), \(at), \(serial), \(expires), NULL)
                    ON CONFLICT (node) DO UPDATE SET fleet = excluded.fleet, enrolled_at = excluded.enrolled_at,
                        renewed_at = excluded.renewed_at, serial = excluded.serial, expires_at = excluded.expires_at,
                        revoked_at = NULL
                    """, logger: logger)
            }
            try await connection.run(
                """
                INSERT INTO node_certificate (node, serial, expires_at) VALUES (\(node), \(serial), \(expires))
                ON CONFLICT (node, serial) DO UPDATE SET expires_at = excluded.expires_at
                """, logger: logger)
        }
    }

    public func certificates(of node: String, now: Date) async throws -> (revoked: Bool, serials: Set<String>)? {
        let now = Milliseconds(now).value
        return try await transaction { connection, logger in
            // One snapshot for both reads, as SQLite gives: a re-enrolment committed in between
            // must not pair the old revocation with the new serial.
            try await connection.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
            var revoked: Int64??
            for try await value in try await connection.query(
                "SELECT revoked_at FROM enrolled_node WHERE node = \(node)", logger: logger
            ).decode(Int64?.self) {
                revoked = .some(value)
            }
            guard let revoked else { return nil }
            var serials: Set<String> = []
            for try await serial in try await connection.query(
                "SELECT serial FROM node_certificate WHERE node = \(node) AND expires_at > \(now)", logger: logger
            ).decode(String.self) {
                serials.insert(serial)
            }
            return (revoked != nil, serials)
        }
    }

    public func allCertificates(now: Date) async throws -> [String: (revoked: Bool, serials: Set<String>)] {
        let now = Milliseconds(now).value
        let result = try await transaction { connection, logger in
            try await connection.run("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
            var result: [String: Entry] = [:]
            for try await (node, revokedAt) in try await connection.query(
                "SELECT node, revoked_at FROM enrolled_node", logger: logger
            ).decode((String, Int64?).self) {
                result[node] = Entry(revoked: revokedAt != nil, serials: [])
            }
            for try await (node, serial) in try await connection.query(
                "SELECT node, serial FROM node_certificate WHERE expires_at > \(now)", logger: logger
            ).decode((String, String).self) {
                result[node, default: Entry(revoked: false, serials: [])].serials.insert(serial)
            }
            return result
        }
        return result.mapValues { ($0.revoked, $0.serials) }
    }

    /// A Sendable stand-in for the tuple `allCertificates` returns.
    struct Entry: Sendable {
        var revoked: Bool
        var serials: Set<String>
    }

    public func revokeNode(_ node: String, at: Date) async throws -> Bool {
        try await query(
            "UPDATE enrolled_node SET revoked_at = COALESCE(revoked_at, \(Milliseconds(at).value)) WHERE node = \(node) RETURNING 1"
        ) { try await Self.single($0, Int.self) != nil }
    }

    public func enrolledNodes() async throws -> [EnrolledNode] {
        try await query(
            "SELECT node, fleet, enrolled_at, renewed_at, serial, expires_at, revoked_at FROM enrolled_node ORDER BY node"
        ) { rows in
            var result: [EnrolledNode] = []
            for try await (node, fleet, enrolledAt, renewedAt, serial, expiresAt, revokedAt) in rows.decode(
                (String, String, Int64, Int64, String, Int64, Int64?).self)
            {
                result.append(
                    EnrolledNode(
                        node: node, fleet: fleet, enrolledAt: Milliseconds(enrolledAt).date, renewedAt: Milliseconds(renewedAt).date,
                        serial: serial, expiresAt: Milliseconds(expiresAt).date, revokedAt: revokedAt.map { Milliseconds($0).date }))
            }
            return result
        }
    }
}
