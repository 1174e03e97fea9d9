import AdminServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Modules
import NIOCore
import Synchronization
import Testing

@Suite("Module downloads under load")
struct ModuleDownloadTests {
    final class Tally: Sendable {
        let state = Mutex((now: 0, most: 0, order: [Int]()))
    }

    @Test("the gate admits at most its limit at once, in arrival order, and refuses no one")
    func gateQueues() async throws {
        let gate = DownloadGate(limit: 2)
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for index in 0..<12 {
                group.addTask {
                    await gate.enter()
                    tally.state.withLock {
                        $0.now += 1
                        $0.most = max($0.most, $0.now)
                        $0.order.append(index)
                    }
                    try? await Task.sleep(for: .milliseconds(5))
                    tally.state.withLock { $0.now -= 1 }
                    gate.leave()
                }
            }
        }
        let result = tally.state.withLock { $0 }
        #expect(result.most == 2)
        #expect(result.order.count == 12)
        #expect(gate.counts.active == 0 && gate.counts.waiting == 0)
    }

    @Test("with one download allowed at a time, 20 concurrent downloads of a 1 MiB module all get its exact bytes")
    func concurrentDownloads() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-dl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ModuleStore(dataDirectory: directory)
        let bytes = Data([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00] + (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let module = try LoadedModule(bytes: bytes, origin: "test")
        try store.put(module)
        let gate = DownloadGate(limit: 1)
        let router = ModuleEndpoint.router(store: store, ready: { true }, gate: gate)
        let application = Application(router: router)
        try await application.test(.live) { client in
            let bodies = try await withThrowingTaskGroup(of: (HTTPResponse.Status, Data).self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await client.execute(uri: "/modules/sha256/\(module.sha256)", method: .get) { response in
                            (response.status, Data(response.body.readableBytesView))
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(bodies.count == 20)
            #expect(bodies.allSatisfy { $0.0 == .ok && $0.1 == bytes })
            let ranged = try await client.execute(
                uri: "/modules/sha256/\(module.sha256)", method: .get, headers: [.range: "bytes=100-299"]
            ) { ($0.status, Data($0.body.readableBytesView)) }
            #expect(ranged.0 == .partialContent && ranged.1 == bytes[100..<300])
        }
        #expect(gate.counts.active == 0)
    }

    @Test("downloads that carry a stream's `s` query are reported: started and completed, or failed with the status")
    func observedDownloads() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-dl-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try ModuleStore(dataDirectory: directory)
        let module = try LoadedModule(bytes: Data([0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00]), origin: "test")
        try store.put(module)
        let seen = Mutex<[String]>([])
        let router = ModuleEndpoint.router(store: store, ready: { true }, observer: { stream, digest, event in
            seen.withLock { $0.append("\(stream) \(digest == module.sha256 ? "module" : digest) \(event)") }
        })
        let missing = String(repeating: "0", count: 64)
        try await Application(router: router).test(.live) { client in
            let whole = try await client.execute(uri: "/modules/sha256/\(module.sha256)?s=abc-1", method: .get) { $0.status }
            #expect(whole == .ok)
            let absent = try await client.execute(uri: "/modules/sha256/\(missing)?s=abc-2", method: .get) { $0.status }
            #expect(absent == .notFound)
            let unmarked = try await client.execute(uri: "/modules/sha256/\(module.sha256)", method: .get) { $0.status }
            #expect(unmarked == .ok)
            let head = try await client.execute(uri: "/modules/sha256/\(module.sha256)?s=abc-3", method: .head) { $0.status }
            #expect(head == .ok)
        }
        #expect(
            seen.withLock { $0 } == [
                "abc-1 module started", "abc-1 module completed",
                "abc-2 \(missing) started", "abc-2 \(missing) failed(\"qpilot answered 404: no module with sha256 \(missing)\")",
            ])
    }
}
