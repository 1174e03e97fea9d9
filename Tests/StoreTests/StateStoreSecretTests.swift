import Foundation
import QpilotAPI
@testable import Store
import Testing

/// What both stores do with secrets: sealed on write, listed without values, opened for config.
struct StateStoreSecretTests {
    @Test(arguments: StoreKind.allCases) func secretsRoundTripWithoutExposingValuesInTheList(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            #expect(try await store.secretValues().isEmpty)
            try await store.setSecret(name: "stripe.key", value: "sk_live_1", author: "alice")
            try await store.setSecret(name: "api-token", value: "tök€n with ✓ unicode", author: "bob")
            try await store.setSecret(name: "stripe.key", value: "sk_live_2", author: "carol")

            let listed = try await store.secrets()
            #expect(listed.map(\.name) == ["api-token", "stripe.key"])
            #expect(listed.map(\.updatedBy) == ["bob", "carol"])
            #expect(try await store.secretValues() == ["api-token": "tök€n with ✓ unicode", "stripe.key": "sk_live_2"])

            #expect(try await store.deleteSecret(name: "api-token"))
            #expect(try await store.deleteSecret(name: "api-token") == false)
            #expect(try await store.secretValues() == ["stripe.key": "sk_live_2"])
        }
    }

    @Test(
        arguments: StoreKind.allCases,
        ["", "with space", "a/b", "../etc", "ünïcode", "new\nline", "${secret:x}", String(repeating: "a", count: 64)])
    func invalidSecretNamesAreRefused(kind: StoreKind, name: String) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            await #expect(throws: StoreError.invalidName(name)) {
                try await store.setSecret(name: name, value: "v", author: "a")
            }
            await #expect(throws: StoreError.invalidName(name)) { try await store.deleteSecret(name: name) }
            #expect(try await store.secrets().isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases) func longestAndPunctuatedNamesAreAccepted(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            let names = [String(repeating: "z", count: 63), "a", "A.b-C_9"]
            for name in names { try await store.setSecret(name: name, value: name, author: "a") }
            #expect(try await store.secretValues() == Dictionary(uniqueKeysWithValues: names.map { ($0, $0) }))
        }
    }

}
