import Foundation
import Testing

extension Integration {
    /// Issue 10, item 10: the official gRPC client (grpcio's C core, as proxyless gRPC xDS
    /// clients use) once got GOAWAY PROTOCOL_ERROR from qpilot with 10 streams on each of 20
    /// connections. `scripts/ads-load.py` opens the streams, reads a response on each and ACKs it.
    @Suite("The official gRPC client (C core) at thousands of streams")
    struct GRPCClientTests {
        struct Outcome: Decodable {
            var streams: Int
            var answered: Int
            var errors: [String]
        }

        static func load(_ qpilot: QpilotProcess, connections: Int, streams: Int) throws -> Outcome {
            let python = Paths.repository.appendingPathComponent(".venv/bin/python").path
            let out = qpilot.directory.appendingPathComponent("ads-load-\(UUID().uuidString).json")
            FileManager.default.createFile(atPath: out.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [
                Paths.repository.appendingPathComponent("scripts/ads-load.py").path, "127.0.0.1:\(qpilot.xdsPort)",
                "--connections", String(connections), "--streams", String(streams), "--hold", "2",
            ]
            process.standardOutput = try FileHandle(forWritingTo: out)
            process.standardError = try FileHandle(forWritingTo: out)
            try process.run()
            let deadline = Date().addingTimeInterval(180)
            while process.isRunning, Date() < deadline { usleep(100_000) }
            if process.isRunning {
                process.terminate()
                throw HarnessError.timeout("scripts/ads-load.py")
            }
            let text = try String(contentsOf: out, encoding: .utf8)
            guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
                throw HarnessError.failed("scripts/ads-load.py printed no result: \(text.suffix(2000))")
            }
            return try JSONDecoder().decode(Outcome.self, from: Data(line.utf8))
        }

        @Test("200 streams over 20 connections, and 2,000 over 100, are all answered", arguments: [(20, 10), (100, 20)])
        func manyStreams(connections: Int, streams: Int) async throws {
            let qpilot = try await QpilotProcess()
            defer { qpilot.stop() }
            #expect(try qpilot.qctl(["push", "greeter", Paths.wasm("add-header").path, "--config", "\"one\""]).status == 0)
            let outcome = try Self.load(qpilot, connections: connections, streams: streams)
            #expect(outcome.streams == connections * streams)
            #expect(outcome.answered == outcome.streams, "\(outcome.errors)")
            #expect(outcome.errors.isEmpty, "\(outcome.errors)")
            #expect(!qpilot.logs.contains("GOAWAY"), "\(qpilot.logs.suffix(2000))")
        }
    }
}
