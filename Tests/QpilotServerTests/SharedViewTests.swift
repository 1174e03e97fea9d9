@testable import QpilotServer
import Synchronization
import Testing

@Suite("Shared status views")
struct SharedViewTests {
    @Test("readers of one moment share one build; a reader after maxAge gets a new one")
    func sharedBuilds() async throws {
        let view = SharedView<Int>(maxAge: .milliseconds(200))
        let builds = Atomic<Int>(0)
        let build: @Sendable () async -> Int = {
            try? await Task.sleep(for: .milliseconds(50))  // a slow build: every reader arrives during it
            return builds.add(1, ordering: .relaxed).newValue
        }
        let values = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<50 { group.addTask { await view.value(build) } }
            return await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(builds.load(ordering: .relaxed) == 1)
        #expect(Set(values) == [1])
        #expect(await view.value(build) == 1, "still fresh")
        try await Task.sleep(for: .milliseconds(300))
        #expect(await view.value(build) == 2)
    }

    @Test("one view per key, and the oldest keys are let go past the limit")
    func perKey() async {
        let views = SharedViews<Int, String>(maxAge: .seconds(60), limit: 2)
        #expect(await views.value(1) { "one" } == "one")
        #expect(await views.value(1) { "changed" } == "one", "fresh for its key")
        #expect(await views.value(2) { "two" } == "two")
        #expect(await views.value(3) { "three" } == "three")
        #expect(await views.value(1) { "one again" } == "one again", "1 was let go when the limit was reached")
    }
}
