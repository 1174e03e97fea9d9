import Foundation
import QpilotAPI
@testable import Store
import Testing

struct StateStoreInterceptTests {
    @Test(arguments: StoreKind.allCases) func interceptedHostsRoundTripAndSurviveAReopen(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            do {
                let store = try await place.open()
                #expect(try await store.intercepts().isEmpty)
                try await store.setIntercept(host: "api.stripe.com", fleets: nil, author: "alice")
                try await store.setIntercept(host: "*.openai.com", fleets: ["payments", "batch"], author: "bob")
                try await store.setIntercept(host: "api.stripe.com", fleets: ["payments"], author: "carol")
            }
            let store = try await place.open()
            let entries = try await store.intercepts()
            #expect(entries.map(\.host) == ["*.openai.com", "api.stripe.com"])
            #expect(entries.map(\.fleets) == [["payments", "batch"], ["payments"]])
            #expect(entries.map(\.updatedBy) == ["bob", "carol"])
            #expect(try await store.deleteIntercept(host: "*.openai.com"))
            #expect(try await store.deleteIntercept(host: "*.openai.com") == false)
            #expect(try await store.intercepts().map(\.host) == ["api.stripe.com"])
        }
    }
}
