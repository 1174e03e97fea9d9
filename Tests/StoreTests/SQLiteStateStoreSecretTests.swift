import Crypto
import Foundation
import QpilotAPI
@testable import Store
import Testing

struct SQLiteStateStoreSecretTests {
    @Test func dataDirectoryIs0700AndKeyFileIs0600() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            _ = try SQLiteStateStore(directory: directory)
            #expect(try StoreTestSupport.mode(of: directory) == 0o700)
            let keyURL = SQLiteStateStore.keyFileURL(in: directory)
            #expect(keyURL.lastPathComponent == "secrets.key")
            #expect(try StoreTestSupport.mode(of: keyURL) == 0o600)
            let text = try String(contentsOf: keyURL, encoding: .utf8)
            #expect(KeyFile.parse(text) != nil)
            #expect(text.filter(\.isNewline).count == 1)
        }
    }

    @Test func databaseFilesHoldNoPlaintext() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            let store = try SQLiteStateStore(directory: directory)
            let name = "canary-name-\(UUID().uuidString.prefix(8))"
            let value = "canary-value-\(UUID().uuidString)"
            try await store.setSecret(name: name, value: value, author: "alice")

            let database = SQLiteStateStore.databaseURL(in: directory)
            var bytes = try Data(contentsOf: database)
            let wal = URL(fileURLWithPath: database.path + "-wal")
            if FileManager.default.fileExists(atPath: wal.path) { bytes += try Data(contentsOf: wal) }
            // The name is stored in the clear, so finding it shows the search reads where the
            // secret was written.
            #expect(bytes.range(of: Data(name.utf8)) != nil)
            #expect(bytes.range(of: Data(value.utf8)) == nil)
        }
    }

    @Test func replacedKeyFileGivesAnErrorNamingTheSecret() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            do {
                let store = try SQLiteStateStore(directory: directory)
                try await store.setSecret(name: "api-token", value: "v", author: "alice")
            }
            try KeyFile.replace(SymmetricKey(size: .bits256), at: SQLiteStateStore.keyFileURL(in: directory))

            let store = try SQLiteStateStore(directory: directory)
            #expect(try await store.secrets().map(\.name) == ["api-token"])
            let error = await #expect(throws: StoreError.self) { try await store.secretValues() }
            let message = error?.description ?? ""
            #expect(message.contains("'api-token'"))
            #expect(message.contains("does not match"))
            #expect(message.contains(SQLiteStateStore.keyFileURL(in: directory).path))
        }
    }

    @Test func keyFileOpenToOtherUsersIsRefused() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            _ = try SQLiteStateStore(directory: directory)
            let keyURL = SQLiteStateStore.keyFileURL(in: directory)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyURL.path)
            let error = #expect(throws: StoreError.self) { try SQLiteStateStore(directory: directory) }
            #expect(error?.description.contains("chmod 600 \(keyURL.path)") == true)
        }
    }

    @Test func malformedKeyFileIsRefused() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            _ = try SQLiteStateStore(directory: directory)
            let keyURL = SQLiteStateStore.keyFileURL(in: directory)
            try Data("not a key\n".utf8).write(to: keyURL)
            let error = #expect(throws: StoreError.self) { try SQLiteStateStore(directory: directory) }
            #expect(error?.description.contains("malformed") == true)
        }
    }

    @Test func hexKeyFileIsAccepted() throws {
        let hex = String(repeating: "0123456789abcdef", count: 4)
        #expect(KeyFile.parse(hex + "\n") != nil)
        #expect(KeyFile.parse(String(hex.dropLast())) == nil)
        #expect(KeyFile.parse("a\nb") == nil)
    }

    @Test func missingKeyFileWithSealedSecretsIsRefused() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            do {
                let store = try SQLiteStateStore(directory: directory)
                try await store.setSecret(name: "s", value: "v", author: "alice")
            }
            try FileManager.default.removeItem(at: SQLiteStateStore.keyFileURL(in: directory))
            let error = #expect(throws: StoreError.self) { try SQLiteStateStore(directory: directory) }
            #expect(error?.description.contains("is missing") == true)
        }
    }

    @Test func sealedValueDoesNotOpenUnderAnotherName() throws {
        let keyring = Keyring(current: SymmetricKey(size: .bits256))
        let (sealed, keyID) = try keyring.seal("value", name: "a")
        #expect(try keyring.open(sealed, keyID: keyID, name: "a") == "value")
        #expect(throws: Keyring.OpenFailure.self) { try keyring.open(sealed, keyID: keyID, name: "b") }
        // A fresh nonce each time: the same value seals to different bytes.
        #expect(try keyring.seal("value", name: "a").sealed != sealed)
    }

    @Test func rotateKeyKeepsEverySecretReadable() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            let keyURL = SQLiteStateStore.keyFileURL(in: directory)
            let expected = ["a": "1", "b": "2", "c": "3"]
            let before: Data
            do {
                let store = try SQLiteStateStore(directory: directory)
                for (name, value) in expected { try await store.setSecret(name: name, value: value, author: "alice") }
                before = try Data(contentsOf: keyURL)
                try await store.rotateKey()
                #expect(try await store.secretValues() == expected)
                try await store.setSecret(name: "d", value: "4", author: "alice")
            }
            #expect(try Data(contentsOf: keyURL) != before)
            #expect(try StoreTestSupport.mode(of: keyURL) == 0o600)
            #expect(!FileManager.default.fileExists(atPath: SQLiteStateStore.pendingKeyFileURL(in: directory).path))

            let reopened = try SQLiteStateStore(directory: directory)
            #expect(try await reopened.secretValues() == expected.merging(["d": "4"]) { $1 })
        }
    }

    struct SimulatedCrash: Error {}

    @Test func rotationInterruptedAfterCommitIsFinishedOnNextStart() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            let keyURL = SQLiteStateStore.keyFileURL(in: directory)
            let pendingURL = SQLiteStateStore.pendingKeyFileURL(in: directory)
            let oldKey: Data
            do {
                let store = try SQLiteStateStore(directory: directory)
                try await store.setSecret(name: "s", value: "v", author: "alice")
                oldKey = try Data(contentsOf: keyURL)
                await #expect(throws: SimulatedCrash.self) { try await store.rotateKey(beforeRename: { throw SimulatedCrash() }) }
            }
            // The crash window: the database is sealed under the pending key, the key file is old.
            let newKey = try Data(contentsOf: pendingURL)
            #expect(try Data(contentsOf: keyURL) == oldKey)

            let reopened = try SQLiteStateStore(directory: directory)
            #expect(try await reopened.secretValues() == ["s": "v"])
            #expect(try Data(contentsOf: keyURL) == newKey)
            #expect(!FileManager.default.fileExists(atPath: pendingURL.path))
        }
    }

    @Test func rotationAfterAFailedRenameStillLeavesEverySecretReadable() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            do {
                let store = try SQLiteStateStore(directory: directory)
                try await store.setSecret(name: "s", value: "v", author: "alice")
                await #expect(throws: SimulatedCrash.self) { try await store.rotateKey(beforeRename: { throw SimulatedCrash() }) }
                try await store.setSecret(name: "t", value: "w", author: "alice")
                try await store.rotateKey()
                #expect(try await store.secretValues() == ["s": "v", "t": "w"])
            }
            #expect(!FileManager.default.fileExists(atPath: SQLiteStateStore.pendingKeyFileURL(in: directory).path))
            #expect(try await SQLiteStateStore(directory: directory).secretValues() == ["s": "v", "t": "w"])
        }
    }

    @Test func rotationInterruptedBeforeCommitIsUndoneOnNextStart() async throws {
        try await StoreTestSupport.withDataDirectory { directory in
            let keyURL = SQLiteStateStore.keyFileURL(in: directory)
            let pendingURL = SQLiteStateStore.pendingKeyFileURL(in: directory)
            let oldKey: Data
            do {
                let store = try SQLiteStateStore(directory: directory)
                try await store.setSecret(name: "s", value: "v", author: "alice")
                oldKey = try Data(contentsOf: keyURL)
            }
            // The crash window: the next key was written, the re-seal never committed.
            try KeyFile.replace(SymmetricKey(size: .bits256), at: pendingURL)

            let reopened = try SQLiteStateStore(directory: directory)
            #expect(try await reopened.secretValues() == ["s": "v"])
            #expect(try Data(contentsOf: keyURL) == oldKey)
            #expect(!FileManager.default.fileExists(atPath: pendingURL.path))
        }
    }
}
