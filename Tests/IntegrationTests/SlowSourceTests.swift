import Foundation
import QpilotAPI
import Testing

extension Integration {
    @Suite("A slow module source holds back only its own write")
    struct SlowSourceTests {
        @Test("While a push waits 5 s on its source, another write commits at once; then the slow push commits too")
        func slowSourceDoesNotHoldTheWriter() async throws {
            let server = try await FetchTests.Server()
            // qpilot as its own process: the qctl runs below block their threads while they wait.
            let qpilot = try await QpilotProcess()
            defer { qpilot.stop() }
            #expect(try qpilot.qctl(["push", "fast", Paths.wasm("add-header").path, "--config", "\"one\""]).status == 0)

            // The module server answers /slow.wasm after 5 s.
            let slow = Task { try qpilot.qctl(["push", "slow", "http://127.0.0.1:\(server.port)/slow.wasm"]) }
            try await Task.sleep(for: .seconds(1))
            let start = ContinuousClock.now
            let disable = try qpilot.qctl(["disable", "fast"])
            let took = ContinuousClock.now - start
            #expect(disable.status == 0, "\(disable)")
            #expect(took < .seconds(3), "the disable waited \(took) behind the slow fetch")

            let pushed = try await slow.value
            #expect(pushed.status == 0, "\(pushed)")
            let history = try qpilot.qctl(["history", "--output", "json"]).json(RevisionList.self)
            #expect(history.revisions.map(\.action) == ["push slow", "disable fast", "push fast"])
        }
    }
}
