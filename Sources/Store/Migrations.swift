import GRDB

/// The schema, one migration per version. GRDB records applied migrations in the database, so a
/// store written by an older qpilot is brought up to date on open. Never edit a shipped migration:
/// add the next one.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    -- One row per commit. `number` is the rowid and is never reused, since rows are
                    -- never deleted. `createdAt` is milliseconds since 1970 (UTC), so a read gives
                    -- back exactly the Date that commit returned. `middleware` is the JSON of
                    -- [MiddlewareSpec] with sorted keys.
                    CREATE TABLE revision (
                        number INTEGER PRIMARY KEY,
                        author TEXT NOT NULL,
                        createdAt INTEGER NOT NULL,
                        action TEXT NOT NULL,
                        middleware TEXT NOT NULL
                    );
                    -- No foreign key to revision: rollouts are also recorded for configurations
                    -- that do not come from the store.
                    CREATE TABLE rollout (
                        revision INTEGER PRIMARY KEY,
                        record BLOB NOT NULL
                    );
                    -- `sealed` is AES-GCM nonce + ciphertext + tag; `keyID` names the key that
                    -- sealed it (see KeyFile.identifier), which is what makes key rotation
                    -- recoverable after a crash.
                    CREATE TABLE secret (
                        name TEXT PRIMARY KEY,
                        sealed BLOB NOT NULL,
                        keyID TEXT NOT NULL,
                        updatedAt INTEGER NOT NULL,
                        updatedBy TEXT NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(
                sql: """
                    -- A config version a node refused, per node and ECDS resource (see
                    -- XDS.NodeRegistry): Envoy ACKs an identical re-send without building it, so
                    -- this memory is what keeps status true across reconnects and restarts.
                    -- `at` is milliseconds since 1970; `serving` is the version the node kept.
                    CREATE TABLE rejection (
                        node TEXT NOT NULL,
                        resource TEXT NOT NULL,
                        version TEXT NOT NULL,
                        message TEXT NOT NULL,
                        at INTEGER NOT NULL,
                        serving TEXT,
                        PRIMARY KEY (node, resource)
                    );
                    """)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(
                sql: """
                    -- Installation-wide values, by name. `versionKey`: 32 random bytes that key
                    -- every resource version qpilot gives Envoy (HMAC), made once and kept for good,
                    -- so versions stay the same across restarts and (on a shared store) replicas.
                    CREATE TABLE setting (
                        name TEXT PRIMARY KEY,
                        value BLOB NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v4") { db in
            try db.execute(
                sql: """
                    -- The HTTPS hosts intercepted in store mode (qctl tls intercept add). `fleets` is
                    -- the JSON of a list of fleet names, or NULL for every fleet; `updatedAt` is
                    -- milliseconds since 1970.
                    CREATE TABLE intercept (
                        host TEXT PRIMARY KEY,
                        fleets TEXT,
                        updatedAt INTEGER NOT NULL,
                        updatedBy TEXT NOT NULL
                    );
                    """)
        }
        migrator.registerMigration("v5") { db in
            try db.execute(
                sql: """
                    -- One-time join tokens (qctl node token create). Only the SHA-256 of the
                    -- secret part is kept; `node` is NULL when any node id may use it. Times are
                    -- milliseconds since 1970; `usedAt`/`usedBy` are set once, by the enrolment.
                    CREATE TABLE enrolmentToken (
                        id TEXT PRIMARY KEY,
                        secretHash BLOB NOT NULL,
                        fleet TEXT NOT NULL,
                        node TEXT,
                        createdAt INTEGER NOT NULL,
                        createdBy TEXT NOT NULL,
                        expiresAt INTEGER NOT NULL,
                        usedAt INTEGER,
                        usedBy TEXT
                    );
                    -- Nodes that hold a client certificate: the latest one issued (serial, expiry),
                    -- and `revokedAt` once an operator revoked the node (certificates issued
                    -- before it are refused; a new enrolment clears it).
                    CREATE TABLE enrolledNode (
                        node TEXT PRIMARY KEY,
                        fleet TEXT NOT NULL,
                        enrolledAt INTEGER NOT NULL,
                        renewedAt INTEGER NOT NULL,
                        serial TEXT NOT NULL,
                        expiresAt INTEGER NOT NULL,
                        revokedAt INTEGER
                    );
                    -- The certificates a node may use: those issued since its latest enrolment
                    -- (renewals add one each), until they expire. An enrolment retires the
                    -- earlier ones, so a stolen key stops working once the node enrols again.
                    CREATE TABLE nodeCertificate (
                        node TEXT NOT NULL,
                        serial TEXT NOT NULL,
                        expiresAt INTEGER NOT NULL,
                        PRIMARY KEY (node, serial)
                    );
                    """)
        }
        return migrator
    }
}
