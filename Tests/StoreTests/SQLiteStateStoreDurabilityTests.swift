import Foundation
import QpilotAPI
@testable import Store
import Testing

struct SQLiteStateStoreDurabilityTests {
    @Test func writerUsesWALWithFullSync() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            let store = try SQLiteStateStore(directory: directory)
            let settings = try await store.durabilitySettings()
            #expect(settings.journalMode == "wal")
            #expect(settings.synchronous == 2)  // FULL
        }
    }

    @Test func reopenedStoreSeesTheSameState() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            let history: [Revision]
            let secrets: [SecretInfo]
            do {
                let store = try SQLiteStateStore(directory: directory)
                _ = try await store.commit(middleware: StoreTestSupport.chain("a"), author: "alice", action: "push a", expected: 0)
                _ = try await store.commit(middleware: StoreTestSupport.chain("a", "b"), author: "bob", action: "push b", expected: 1)
                try await store.saveRollout(revision: 2, record: Data("{\"published\":true}".utf8))
                try await store.setSecret(name: "token", value: "s3cret", author: "alice")
                history = try await store.revisions(limit: 10, before: nil)
                secrets = try await store.secrets()
            }
            let reopened = try SQLiteStateStore(directory: directory)
            #expect(try await reopened.head() == history.first)
            #expect(try await reopened.revisions(limit: 10, before: nil) == history)
            #expect(try await reopened.rollout(revision: 2) == Data("{\"published\":true}".utf8))
            #expect(try await reopened.secrets() == secrets)
            #expect(try await reopened.secretValues() == ["token": "s3cret"])
            #expect(try await reopened.commit(middleware: [], author: "carol", action: "apply", expected: 2).number == 3)
        }
    }

    @Test func failureInsideTheTransactionLeavesTheHeadUnchanged() async throws {
        struct FailureAfterInsert: Error {}
        try await StoreTestSupport.withDataDirectory { directory in
            let store = try SQLiteStateStore(directory: directory)
            let head = try await store.commit(middleware: StoreTestSupport.chain("a"), author: "a", action: "push a", expected: 0)
            await #expect(throws: FailureAfterInsert.self) {
                try await store.commit(
                    middleware: StoreTestSupport.chain("a", "b"), author: "a", action: "push b", expected: 1,
                    beforeCommit: { headInTransaction in
                        // The row is there inside the transaction…
                        guard headInTransaction == 2 else { return }
                        throw FailureAfterInsert()
                    })
            }
            // …and gone after the rollback.
            #expect(try await store.head() == head)
            #expect(try await store.revision(2) == nil)
            #expect(try await store.commit(middleware: [], author: "a", action: "apply", expected: 1).number == 2)
        }
    }

    /// Copies the database files as a crash would leave them: the process is gone, the WAL is
    /// not checkpointed.
    private func copyAsCrashed(from directory: URL, to copy: URL, tearingWALBy tornBytes: Int) throws {
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        let database = SQLiteStateStore.databaseURL(in: directory)
        let copiedDatabase = SQLiteStateStore.databaseURL(in: copy)
        try FileManager.default.copyItem(at: database, to: copiedDatabase)
        var wal = try Data(contentsOf: URL(fileURLWithPath: database.path + "-wal"))
        wal.removeLast(tornBytes)
        try wal.write(to: URL(fileURLWithPath: copiedDatabase.path + "-wal"))
    }

    @Test func committedRevisionSurvivesACrashAndATornWriteLeavesThePreviousOne() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            let store = try SQLiteStateStore(directory: directory)
            let first = try await store.commit(middleware: StoreTestSupport.chain("a"), author: "a", action: "push a", expected: 0)
            let second = try await store.commit(middleware: StoreTestSupport.chain("a", "b"), author: "a", action: "push b", expected: 1)

            // kill -9 right after commit returned: the WAL as it is on disk.
            let crashed = directory.deletingLastPathComponent().appendingPathComponent("crashed")
            try copyAsCrashed(from: directory, to: crashed, tearingWALBy: 0)
            #expect(try await SQLiteStateStore(directory: crashed).head() == second)

            // Power lost while the second commit's last WAL frame was being written.
            let torn = directory.deletingLastPathComponent().appendingPathComponent("torn")
            try copyAsCrashed(from: directory, to: torn, tearingWALBy: 1)
            let recovered = try SQLiteStateStore(directory: torn)
            #expect(try await recovered.head() == first)
            #expect(try await recovered.revision(2) == nil)
            #expect(try await recovered.commit(middleware: [], author: "a", action: "apply", expected: 1).number == 2)
        }
    }
}
