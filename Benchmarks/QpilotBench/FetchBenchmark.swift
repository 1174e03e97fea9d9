import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A fetch storm on qpilot's module endpoint: `clients` HTTP/1.1 clients each GET one module at
/// the same moment, as the Envoys of a fleet do after a push of a `remote` module, for `rounds`
/// rounds. Each body is read as it streams and only counted, so the client holds no copies.
///
/// Prints per round: the time until the last byte of the last download, the p50 and p99 of one
/// download, the bytes received, and qpilot's RSS before and its peak (VmHWM) after.
enum FetchBenchmark {
    static let usage = "usage: qpilot-bench fetch --url URL --pid PID [--clients N] [--rounds N]"

    static func run(_ arguments: [String]) async throws {
        var url = ""
        var pid = 0
        var clients = 1000
        var rounds = 3
        var index = 0
        func value() throws -> String {
            index += 1
            guard index < arguments.count else { throw BenchError(usage) }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--url": url = try value()
            case "--pid": pid = Int(try value()) ?? 0
            case "--clients": clients = Int(try value()) ?? 0
            case "--rounds": rounds = Int(try value()) ?? 0
            default: throw BenchError(usage)
            }
            index += 1
        }
        guard !url.isEmpty, pid > 0, clients > 0, rounds > 0 else { throw BenchError(usage) }
        let target = url

        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients)
        configuration.timeout = .init(connect: .seconds(30), read: .seconds(120))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        for round in 1...rounds {
            let rssBefore = memory(pid, "VmRSS")
            let start = ContinuousClock.now
            let results = try await withThrowingTaskGroup(of: (Double, Int, UInt).self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        let began = ContinuousClock.now
                        let response = try await client.execute(HTTPClientRequest(url: target), timeout: .seconds(120))
                        var bytes = 0
                        for try await chunk in response.body { bytes += chunk.readableBytes }
                        return (milliseconds(ContinuousClock.now - began), bytes, response.status.code)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let wall = milliseconds(ContinuousClock.now - start)
            let latencies = results.map(\.0).sorted()
            let bytes = results.reduce(0) { $0 + $1.1 }
            let failed = results.filter { $0.2 != 200 }.count
            print(
                String(
                    format: "round %d: %d downloads in %.0f ms (%.0f MB/s), one download p50 %.0f ms p99 %.0f ms, %d MB received, %d not 200; qpilot RSS %d MB before, peak %d MB, %d MB after",
                    round, clients, wall, Double(bytes) / 1e6 / (wall / 1000), median(latencies),
                    latencies[min(latencies.count - 1, latencies.count * 99 / 100)], bytes / 1_000_000, failed, rssBefore / 1024,
                    memory(pid, "VmHWM") / 1024, memory(pid, "VmRSS") / 1024))
        }
        try await client.shutdown()
    }

    /// A `/proc/PID/status` field in KiB.
    static func memory(_ pid: Int, _ field: String) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}
