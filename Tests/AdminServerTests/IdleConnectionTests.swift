import AdminServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Modules
import PostgresTestSupport
import NIOCore
import Testing

/// The module endpoint as a real server on loopback: a client that connects and sends nothing is
/// disconnected, so idle sockets cannot pile up until health, admin and xDS time out.
@Suite("HTTP servers close idle connections")
struct IdleConnectionTests {
    @Test("a connection that sends nothing is closed after the idle timeout; one that asks is answered")
    func idleClosed() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-idle-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let application = ModuleEndpoint.application(
            host: "127.0.0.1", port: 0, store: try ModuleStore(dataDirectory: directory), ready: { true },
            logger: Logger(label: "qpilot-tests", factory: { _ in SwiftLogNoOpLogHandler() }), idleTimeout: .milliseconds(300))
        try await application.test(.live) { client in
            let port = try #require(client.port)
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }

            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            #expect(fd >= 0)
            defer { close(fd) }
            #expect(LocalProcess.connectLoopback(fd, port: port))
            // Wait (at most 5 s) for the server to close it: read returns 0 at end of stream.
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var byte: UInt8 = 0
            let start = ContinuousClock.now
            let count = read(fd, &byte, 1)
            #expect(count == 0, "the server closed the idle connection (read gave \(count), errno \(errno))")
            #expect(ContinuousClock.now - start < .seconds(4), "closed by the idle timeout, not the read timeout")
        }
    }
}
