import Foundation
import QpilotAPI
@testable import Store
import Testing

struct StateStoreRevisionTests {
    @Test(arguments: StoreKind.allCases) func emptyStoreHasNoHeadAndNoHistory(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            #expect(try await store.head() == nil)
            #expect(try await store.revisions(limit: 10, before: nil).isEmpty)
            #expect(try await store.revision(1) == nil)
        }
    }

    @Test(arguments: StoreKind.allCases) func commitsAreNumberedInOrderAndReadBackWhole(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            var spec = MiddlewareSpec(name: "pii-guard", source: "oci://registry.local/pii:1", failurePolicy: .open, fleets: ["edge"])
            spec.config = .object(["redact": .array([.string("email"), .string("phone")]), "level": .number(2), "on": .bool(true)])
            let first = try await store.commit(middleware: [spec], author: "alice", action: "push pii-guard", expected: 0)
            let second = try await store.commit(
                middleware: [spec] + StoreTestSupport.chain("key-injector"), author: "bob", action: "push key-injector", expected: 1)
            let third = try await store.commit(middleware: [], author: "alice", action: "apply", expected: 2)

            #expect([first.number, second.number, third.number] == [Int](1...3))
            #expect(try await store.head() == third)
            #expect(try await store.revisions(limit: 10, before: nil) == [third, second, first])
            #expect(try await store.revision(2) == second)
            #expect(try await store.revision(2)?.middleware.first?.config == spec.config)
            #expect(try await store.revision(4) == nil)
        }
    }

    @Test(arguments: StoreKind.allCases) func beforePagesThroughOlderRevisions(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            for number in 1...5 {
                _ = try await store.commit(middleware: StoreTestSupport.chain("m\(number)"), author: "a", action: "apply", expected: number - 1)
            }
            #expect(try await store.revisions(limit: 2, before: nil).map(\.number) == [5, 4])
            #expect(try await store.revisions(limit: 2, before: 4).map(\.number) == [3, 2])
            #expect(try await store.revisions(limit: 2, before: 2).map(\.number) == [1])
            #expect(try await store.revisions(limit: 2, before: 1).isEmpty)
            #expect(try await store.revisions(limit: 0, before: nil).isEmpty)
            #expect(try await store.revisions(limit: 100, before: 99).map(\.number) == [5, 4, 3, 2, 1])
        }
    }

    @Test(arguments: StoreKind.allCases) func expectedZeroMeansAnEmptyStore(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            let first = try await store.commit(middleware: [], author: "a", action: "apply", expected: 0)
            #expect(first.number == 1)
            await #expect(throws: StoreError.staleRevision(expected: 0, head: 1)) {
                try await store.commit(middleware: [], author: "a", action: "apply", expected: 0)
            }
        }
    }

    @Test(arguments: StoreKind.allCases) func staleExpectedRevisionWritesNothing(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            _ = try await store.commit(middleware: StoreTestSupport.chain("a"), author: "a", action: "push a", expected: 0)
            let head = try await store.commit(middleware: StoreTestSupport.chain("a", "b"), author: "a", action: "push b", expected: 1)

            await #expect(throws: StoreError.staleRevision(expected: 1, head: 2)) {
                try await store.commit(middleware: StoreTestSupport.chain("c"), author: "late", action: "push c", expected: 1)
            }
            await #expect(throws: StoreError.staleRevision(expected: 7, head: 2)) {
                try await store.commit(middleware: StoreTestSupport.chain("c"), author: "late", action: "push c", expected: 7)
            }
            #expect(try await store.head() == head)
            #expect(try await store.revisions(limit: 10, before: nil).count == 2)
            #expect(try await store.revision(3) == nil)
        }
    }

    @Test(arguments: StoreKind.allCases) func nilExpectedAlwaysWrites(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            _ = try await store.commit(middleware: [], author: "a", action: "apply", expected: nil)
            let second = try await store.commit(middleware: [], author: "a", action: "apply", expected: nil)
            #expect(second.number == 2)
        }
    }

    @Test func storedJSONIsDeterministic() throws {
        var spec = MiddlewareSpec(name: "m", source: "https://example.com/m.wasm", priority: 3)
        spec.config = .object(["zeta": .number(1), "alpha": .object(["y": .null, "b": .string("x/y")])])
        let json = try SQLiteStateStore.encode([spec])
        #expect(json == (try SQLiteStateStore.encode([spec])))
        // Sorted keys at every level, so equal chains are equal bytes.
        let alpha = try #require(json.range(of: "\"alpha\""))
        let zeta = try #require(json.range(of: "\"zeta\""))
        #expect(alpha.lowerBound < zeta.lowerBound)
        let b = try #require(json.range(of: "\"b\""))
        let y = try #require(json.range(of: "\"y\""))
        #expect(b.lowerBound < y.lowerBound)
    }

    @Test(arguments: StoreKind.allCases) func rolloutRecordsAreSavedAndReplaced(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            #expect(try await store.rollout(revision: 1) == nil)
            try await store.saveRollout(revision: 1, record: Data("first".utf8))
            try await store.saveRollout(revision: 2, record: Data([0, 1, 2, 255]))
            try await store.saveRollout(revision: 1, record: Data("second".utf8))
            #expect(try await store.rollout(revision: 1) == Data("second".utf8))
            #expect(try await store.rollout(revision: 2) == Data([0, 1, 2, 255]))
        }
    }

    @Test(arguments: StoreKind.allCases) func concurrentCommitsWithTheSameExpectedRevisionHaveOneWinner(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            _ = try await store.commit(middleware: [], author: "setup", action: "apply", expected: 0)

            let results = await withTaskGroup(of: Result<Revision, any Error>.self) { group in
                for writer in 0..<20 {
                    group.addTask {
                        do {
                            return .success(
                                try await store.commit(
                                    middleware: StoreTestSupport.chain("w\(writer)"), author: "w\(writer)", action: "apply", expected: 1))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var results: [Result<Revision, any Error>] = []
                for await result in group { results.append(result) }
                return results
            }
            let winners = results.compactMap { try? $0.get() }
            let stale = results.filter {
                if case .failure(let error) = $0 { return error as? StoreError == .staleRevision(expected: 1, head: 2) }
                return false
            }
            #expect(winners.map(\.number) == [2])
            #expect(stale.count == 19)
            #expect(try await store.head() == winners.first)

            // Without `expected` every writer wins, each with its own number.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<20 {
                    group.addTask { _ = try await store.commit(middleware: [], author: "w\(writer)", action: "apply", expected: nil) }
                }
                try await group.waitForAll()
            }
            #expect(try await store.revisions(limit: 100, before: nil).map(\.number) == Array((1...22).reversed()))
        }
    }

    @Test(arguments: StoreKind.allCases) func pruneKeepsTheLatestRevisionsAndNeverReusesNumbers(kind: StoreKind) async throws {
        try await StoreTestSupport.withStore(kind) { place in
            let store = try await place.open()
            for number in 1...5 {
                _ = try await store.commit(middleware: StoreTestSupport.chain("m\(number)"), author: "t", action: "push", expected: nil)
                try await store.saveRollout(revision: number, record: Data("r\(number)".utf8))
            }
            #expect(try await store.prune(keepingLatest: 2) == 3)
            #expect(try await store.revisions(limit: 10, before: nil).map(\.number) == [5, 4])
            #expect(try await store.rollout(revision: 3) == nil, "its rollout record went with it")
            #expect(try await store.rollout(revision: 4) == Data("r4".utf8))
            #expect(try await store.prune(keepingLatest: 2) == 0, "nothing more to delete")
            let next = try await store.commit(middleware: StoreTestSupport.chain("m6"), author: "t", action: "push", expected: 5)
            #expect(next.number == 6)
            #expect(try await store.prune(keepingLatest: 1) == 2)
            #expect(try await store.head()?.number == 6, "the head is always kept")
        }
    }
}
