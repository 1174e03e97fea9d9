import Foundation
import Store
import Testing

struct StateStoreRejectionTests {
    @Test("rejections are saved, replaced per node and resource, forgotten, and read back by a new store on the same state", arguments: StoreKind.allCases)
    func rejectionsRoundTrip(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            #expect(try await store.rejections().isEmpty)
            let at = Date(timeIntervalSince1970: 1_800_000_000.5)
            let first = StoredRejection(node: "n1", resource: "qpilot.middleware.m2", version: "v2", message: "bad", at: at, serving: "v1")
            let other = StoredRejection(node: "n2", resource: "qpilot.middleware.m2", version: "v2", message: "bad", at: at, serving: nil)
            try await store.updateRejections(remember: [first, other], forget: [])
            var replaced = first
            replaced.version = "v3"
            replaced.message = "still bad"
            try await store.updateRejections(remember: [replaced], forget: [(node: "n2", resource: "qpilot.middleware.m2")])
            #expect(try await store.rejections() == [replaced])

            let reopened = try await place.open()
            #expect(try await reopened.rejections() == [replaced], "milliseconds survive the round trip")
            try await reopened.updateRejections(remember: [], forget: [(node: "n1", resource: "qpilot.middleware.m2")])
            #expect(try await reopened.rejections().isEmpty)
        }
    }
}

struct StateStoreSettingTests {
    @Test("the version key is made once, 32 bytes, and is the same after a reopen", arguments: StoreKind.allCases)
    func versionKeyIsStable(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            let key = try await store.versionKey()
            #expect(key.count == 32)
            #expect(try await store.versionKey() == key)
            #expect(try await place.open().versionKey() == key)
        }
        try await StoreTestSupport.withStore(kind) { place in
            let other = try await place.open().versionKey()
            #expect(other.count == 32, "another installation has its own key")
        }
    }
}
