import AdminServer
import Dispatch
import Foundation
import Logging
import PostgresTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// The admin API on a thread of its own answers while every thread of Swift's cooperative pool is
/// taken, as they are while qpilot pushes a change to 10,000 ADS streams; the same server on the
/// pool does not. The client is a plain thread with a blocking socket, so it needs no pool either.
@Suite("The admin API on its own thread")
struct DedicatedThreadTests {
    static let token = "admin-token-0123456789"

    @Test("answers while the cooperative pool is blocked; on the pool the same request waits")
    func answersWhilePoolIsBlocked() async throws {
        guard ProcessInfo.processInfo.environment["QPILOT_BLOCK_POOL"] != nil else {
            // Blocking the pool would stall every test running beside this one: the test runs
            // alone, in a test process of its own.
            let output = try await onPlainThread { () -> Result<(Int32, String), any Error> in
                Result { try Self.runAlone(filter: "answersWhilePoolIsBlocked") }
            }.get()
            #expect(output.0 == 0, "\(output.1)")
            #expect(output.1.contains("passed") && output.1.contains("answers while the cooperative pool is blocked"), "\(output.1)")
            #expect(!output.1.contains("✘"), "\(output.1)")
            return
        }
        let logger = Logger(label: "qpilot-tests", factory: { _ in SwiftLogNoOpLogHandler() })
        let tokens = Tokens([(Self.token, .admin)])
        let thread = DedicatedThread()
        let (ownPort, poolPort) = (try LocalProcess.freePort(), try LocalProcess.freePort())
        let own = ServiceOnThread(
            AdminAPI.application(
                host: "127.0.0.1", port: ownPort, tokens: tokens, backend: FakeBackend(), logger: logger,
                eventLoopGroup: thread.group),
            thread: thread)
        let onPool = AdminAPI.application(host: "127.0.0.1", port: poolPort, tokens: tokens, backend: FakeBackend(), logger: logger)
        let group = ServiceGroup(services: [own, onPool], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            for port in [ownPort, poolPort] {
                #expect(try await waitUntilServing(port: port), "the server on port \(port) answers before the test")
            }

            let whileBlocked = await Self.blockingThePool { [ownPort, poolPort] in
                (get(port: ownPort, timeout: 10), get(port: poolPort, timeout: 1))
            }
            #expect(whileBlocked.0 == 200, "the admin API on its own thread answered while the pool was blocked")
            #expect(whileBlocked.1 == nil, "the same API on the pool waited for a thread (got \(String(describing: whileBlocked.1)))")
            let afterwards = await onPlainThread { [poolPort] in get(port: poolPort, timeout: 5) }
            #expect(afterwards == 200, "the API on the pool answers once the pool is free")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    /// Runs this test binary again with only `filter`, and QPILOT_BLOCK_POOL set: its status and
    /// output.
    static func runAlone(filter: String) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = ["--testing-library", "swift-testing", "--filter", filter]
        process.environment = ProcessInfo.processInfo.environment.merging(["QPILOT_BLOCK_POOL": "1"]) { $1 }
        return try LocalProcess.runToEnd(process)
    }

    /// Takes every thread of the cooperative pool with tasks blocked on a semaphore, runs `probe`
    /// on a plain thread once they all wait, frees them, and returns what `probe` returned.
    static func blockingThePool(
        _ probe: @escaping @Sendable () -> (Int?, Int?)
    ) async -> (Int?, Int?) {
        let width = ProcessInfo.processInfo.activeProcessorCount
        let started = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let result = Mutex<(Int?, Int?)>((nil, nil))
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for _ in 0..<width { started.wait() }
            let got = probe()
            result.withLock { $0 = got }
            for _ in 0..<width { release.signal() }
            finished.signal()
        }
        for _ in 0..<width {
            Task.detached {
                started.signal()
                release.wait()
            }
        }
        await onPlainThread { finished.wait() }
        return result.withLock { $0 }
    }
}

/// Runs blocking work on a thread of its own, not on the cooperative pool.
func onPlainThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}

/// Polls `GET /v1/config` until it answers (at most 10 s).
func waitUntilServing(port: Int) async throws -> Bool {
    for _ in 0..<100 {
        if await onPlainThread({ get(port: port, timeout: 1) }) == 200 { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return false
}

/// `GET /v1/config` over a blocking socket: the status, or nil when nothing came within `timeout`
/// seconds. Needs no Swift concurrency at all.
func get(port: Int, timeout: Int) -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var wait = timeval(tv_sec: timeout, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wait, socklen_t(MemoryLayout<timeval>.size))
    guard LocalProcess.connectLoopback(fd, port: port) else { return nil }
    let request = "GET /v1/config HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(DedicatedThreadTests.token)\r\nConnection: close\r\n\r\n"
    guard request.utf8CString.withUnsafeBufferPointer({ write(fd, $0.baseAddress, $0.count - 1) }) == request.utf8.count else {
        return nil
    }
    var head = [UInt8](repeating: 0, count: 64)
    let count = read(fd, &head, head.count)
    guard count >= 12, let line = String(bytes: head[0..<count], encoding: .utf8), line.hasPrefix("HTTP/1.1 ") else { return nil }
    return Int(line.dropFirst(9).prefix(3))
}
