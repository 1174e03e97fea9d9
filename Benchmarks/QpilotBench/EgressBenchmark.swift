import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// The egress data path as an application sees it: POSTs of one body to one URL through an HTTP
/// proxy (Envoy's egress listener), `connections` at a time, each connection kept alive.
///
/// `https://` URLs go through a CONNECT tunnel, in which the client makes its own TLS handshake
/// with whoever answers (the origin, or Envoy with a certificate from qpilot's CA when the name is
/// intercepted), trusting only `--ca`. `http://` URLs are sent to the proxy itself with the URL's
/// host in `Host`, which Envoy reads as it reads an absolute-form target: async-http-client
/// tunnels every proxied request with CONNECT, and the proxy's middleware would never see them.
/// HTTP/1.1 only, so that each connection carries one request at a time, as wrk does, in every
/// configuration. A warm-up opens the connections and is discarded; the measured run should then
/// open none (reported as `measuredConnections`), so the figures are the per-request cost and not
/// the handshakes.
///
/// Prints one line of JSON: requests, seconds, rps, p50 and p99 in µs, non2xx, errors (of the
/// measured run), the connections opened in total and during the measured run, and the requests
/// of the warm-up (for a CPU time per request taken over the whole process).
enum EgressBenchmark {
    struct Options {
        var url = ""
        var proxy: (host: String, port: Int)?
        var caFile: String?
        var body = ByteBuffer(repeating: UInt8(ascii: "x"), count: 1024)
        var connections = 16
        var duration = 10.0
        var warmup = 2.0

        static let usage = """
            usage: qpilot-bench egress --url URL [--proxy HOST:PORT] [--ca FILE] [--body FILE | --size BYTES]
                                       [--connections N] [--duration SECONDS] [--warmup SECONDS]
            """

        init(_ arguments: [String]) throws {
            var index = 0
            func value() throws -> String {
                index += 1
                guard index < arguments.count else { throw BenchError(Self.usage) }
                return arguments[index]
            }
            while index < arguments.count {
                switch arguments[index] {
                case "--url": url = try value()
                case "--proxy":
                    let parts = try value().split(separator: ":")
                    guard parts.count == 2, let port = Int(parts[1]) else { throw BenchError(Self.usage) }
                    proxy = (String(parts[0]), port)
                case "--ca": caFile = try value()
                case "--body":
                    let path = try value()
                    guard let data = FileManager.default.contents(atPath: path) else { throw BenchError("cannot read \(path)") }
                    body = ByteBuffer(bytes: data)
                case "--size":
                    guard let size = Int(try value()), size >= 0 else { throw BenchError(Self.usage) }
                    body = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
                case "--connections": connections = Int(try value()) ?? 0
                case "--duration": duration = Double(try value()) ?? 0
                case "--warmup": warmup = Double(try value()) ?? -1
                default: throw BenchError(Self.usage)
                }
                index += 1
            }
            guard url.hasPrefix("http://") || url.hasPrefix("https://"), connections > 0, duration > 0, warmup >= 0 else {
                throw BenchError(Self.usage)
            }
        }
    }

    /// What the workers of one run saw.
    struct Tally {
        var latencies: [Int] = []
        var non2xx = 0
        var errors = 0
        var firstError: String?

        mutating func add(_ other: Tally) {
            latencies += other.latencies
            non2xx += other.non2xx
            errors += other.errors
            firstError = firstError ?? other.firstError
        }
    }

    struct Report: Encodable {
        var requests: Int
        var seconds: Double
        var rps: Double
        var p50: Int
        var p99: Int
        var non2xx: Int
        var errors: Int
        var connections: Int
        var measuredConnections: Int
        var warmupRequests: Int
        var firstError: String?
    }

    /// Counts the connections the client opens (after the proxy's CONNECT and the TLS handshake).
    final class ConnectionCounter: Sendable {
        let opened = Atomic<Int>(0)
    }

    static func run(_ arguments: [String]) async throws {
        let options = try Options(arguments)
        let counter = ConnectionCounter()
        var configuration = HTTPClient.Configuration()
        configuration.httpVersion = .http1Only
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = options.connections
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(10))
        var request = HTTPClientRequest(url: options.url)
        if let proxy = options.proxy {
            if options.url.hasPrefix("https://") {
                configuration.proxy = .server(host: proxy.host, port: proxy.port)
            } else {
                // Envoy reads an absolute-form target and a Host header alike, into :authority.
                let target = options.url.dropFirst("http://".count)
                let authority = target.prefix { $0 != "/" }
                request = HTTPClientRequest(url: "http://\(proxy.host):\(proxy.port)\(target.dropFirst(authority.count))")
                request.headers.add(name: "host", value: String(authority))
            }
        }
        if let caFile = options.caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            configuration.tlsConfiguration = tls
        }
        configuration.http1_1ConnectionDebugInitializer = { channel in
            counter.opened.add(1, ordering: .relaxed)
            return channel.eventLoop.makeSucceededVoidFuture()
        }
        // One event-loop thread, like `wrk -t1`: the client shares the 2 cores with two Envoys.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)

        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(options.body)

        // The warm-up opens the connections; the measured run reuses them.
        let warmup = await load(client, request, connections: options.connections, seconds: options.warmup)
        let before = counter.opened.load(ordering: .relaxed)
        let start = ContinuousClock.now
        let tally = await load(client, request, connections: options.connections, seconds: options.duration)
        let seconds = milliseconds(ContinuousClock.now - start) / 1000
        try await client.shutdown()
        try await group.shutdownGracefully()

        let sorted = tally.latencies.sorted()
        func percentile(_ p: Int) -> Int { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * p / 100)] }
        let opened = counter.opened.load(ordering: .relaxed)
        let report = Report(
            requests: sorted.count, seconds: seconds, rps: Double(sorted.count) / seconds, p50: percentile(50),
            p99: percentile(99), non2xx: tally.non2xx, errors: tally.errors, connections: opened,
            measuredConnections: opened - before, warmupRequests: warmup.latencies.count + warmup.errors,
            firstError: tally.firstError ?? warmup.firstError)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        print(String(decoding: try encoder.encode(report), as: UTF8.self))
    }

    /// `connections` workers, each sending the request again as soon as the previous answer has
    /// been read, until `seconds` have passed. Latencies in µs, of every answered request.
    static func load(_ client: HTTPClient, _ request: HTTPClientRequest, connections: Int, seconds: Double) async -> Tally {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        return await withTaskGroup(of: Tally.self) { group in
            for _ in 0..<connections {
                group.addTask {
                    var tally = Tally()
                    while ContinuousClock.now < deadline {
                        let start = ContinuousClock.now
                        do {
                            let response = try await client.execute(request, timeout: .seconds(10))
                            _ = try await response.body.collect(upTo: 1 << 20)
                            tally.latencies.append(Int(milliseconds(ContinuousClock.now - start) * 1000))
                            if !(200..<300).contains(response.status.code) {
                                tally.non2xx += 1
                                tally.firstError = tally.firstError ?? "HTTP \(response.status.code)"
                            }
                        } catch {
                            tally.errors += 1
                            tally.firstError = tally.firstError ?? "\(error)"
                            // A refused connection fails at once; do not spin on it.
                            try? await Task.sleep(for: .milliseconds(10))
                        }
                    }
                    return tally
                }
            }
            var total = Tally()
            for await tally in group { total.add(tally) }
            return total
        }
    }
}
