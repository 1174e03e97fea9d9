import AsyncHTTPClient
import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import NIOCore
import NIOHTTP1
import SwiftProtobuf
import Synchronization
import Translator

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fleet fan-out (DESIGN.md: 10,000 ADS streams on one qpilot, a change reaches all in under 2 s,
/// under 50 KB of memory per stream).
///
/// Opens `streams` SotW ADS streams to a running store-mode qpilot, `perConnection` of them on
/// each HTTP/2 connection, each with its own node id in fleet `default`, subscribing as Envoy
/// does: CDS and LDS wildcard first; once the first LDS response arrives, RDS for qpilot's two
/// route names and ECDS for `qpilot.middleware.<name>`; every response ACKed with its
/// `version_info` and `response_nonce`. It measures qpilot's resident memory (VmRSS) before the
/// streams and once every stream has ACKed all four types, then PUTs `rounds` config changes of
/// the middleware through the admin API, one at a time, and times each from sending the PUT
/// until the last stream has written its ACK of the new ECDS version; then, polling `/metrics`
/// every 10 ms, until qpilot's `qpilot_xds_push_to_ack_seconds_count` has grown by one per
/// stream (qpilot has read and recorded every ACK), and checks that the rollout says `complete`.
///
/// The client runs on the same 2 cores as qpilot, so the figures include its CPU competing with
/// qpilot's; it prints both processes' CPU time per change.
enum FanoutBenchmark {
    struct Options {
        var xdsHost = "127.0.0.1"
        var xdsPort = 0
        var admin = ""
        var token = ""
        var pid: Int32 = 0
        var streams = 1000
        var perConnection = 100
        var middleware = "bench"
        var module = ""
        var rounds = 5
        /// `inline`, `file` or `remote`; nil lets qpilot choose by size.
        var delivery: String?
        /// One module cache for every stream: the first stream's download serves all (the
        /// control plane's work without a download storm from one machine).
        var sharedCache = false

        static let usage = """
            usage: qpilot-bench fanout --xds HOST:PORT --admin http://HOST:PORT --token-file FILE --pid QPILOT_PID
                                       --module /abs/path.wasm [--streams N] [--per-connection N] [--rounds N]
                                       [--delivery inline|remote] [--shared-cache]
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
                case "--xds":
                    let parts = try value().split(separator: ":")
                    guard parts.count == 2, let port = Int(parts[1]) else { throw BenchError(Self.usage) }
                    (xdsHost, xdsPort) = (String(parts[0]), port)
                case "--admin": admin = try value()
                case "--token-file":
                    let text = try String(contentsOfFile: try value(), encoding: .utf8)
                    token = text.split(separator: "\n").first { !$0.hasPrefix("#") && !$0.isEmpty }
                        .map { String($0.split(separator: " ")[0]) } ?? ""
                case "--pid": pid = Int32(try value()) ?? 0
                case "--streams": streams = Int(try value()) ?? 0
                case "--per-connection": perConnection = Int(try value()) ?? 0
                case "--rounds": rounds = Int(try value()) ?? 0
                case "--module": module = try value()
                case "--delivery": delivery = try value()
                case "--shared-cache": sharedCache = true
                default: throw BenchError(Self.usage)
                }
                index += 1
            }
            guard xdsPort > 0, !admin.isEmpty, !token.isEmpty, pid > 0, streams > 0, perConnection > 0, rounds > 0,
                module.hasPrefix("/")
            else { throw BenchError(Self.usage) }
        }
    }

    static let clusterType = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
    static let listenerType = "type.googleapis.com/envoy.config.listener.v3.Listener"
    static let routeType = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
    static let extensionType = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig"

    static func run(_ arguments: [String]) async throws {
        let options = try Options(arguments)
        let admin = AdminClient(base: options.admin, token: options.token)

        // The middleware the streams subscribe to, before any stream opens.
        var configCounter = 0
        func put() async throws -> (revision: Int, seconds: Double) {
            configCounter += 1
            let start = ContinuousClock.now
            let revision = try await admin.putMiddleware(
                name: options.middleware, source: options.module, config: "fanout-\(configCounter)", delivery: options.delivery)
            return (revision, seconds(ContinuousClock.now - start))
        }
        _ = try await put()
        try await Task.sleep(for: .seconds(1))
        let rssBefore = try residentKilobytes(pid: options.pid)
        print("qpilot pid \(options.pid): VmRSS \(rssBefore) KB before the streams")

        // One connection per stream at most, as every Envoy has its own.
        let fleet = Fleet(downloader: Downloader(connections: options.streams), sharedCache: options.sharedCache ? HeldModules() : nil)
        defer { fleet.downloader?.shutdown() }
        let connections = (options.streams + options.perConnection - 1) / options.perConnection
        var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
        try await withThrowingTaskGroup(of: Void.self) { group in
            let opened = ContinuousClock.now
            for connection in 0..<connections {
                let transport = try HTTP2ClientTransport.Posix(
                    target: .ipv4(address: options.xdsHost, port: options.xdsPort), transportSecurity: .plaintext,
                    config: .defaults { $0.connection.maxIdleTime = nil })
                let client = GRPCClient(transport: transport)
                clients.append(client)
                group.addTask { try await client.runConnections() }
                let ads = Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client(wrapping: client)
                let first = connection * options.perConnection
                for index in first..<min(options.streams, first + options.perConnection) {
                    group.addTask {
                        do {
                            try await runStream(
                                index: index, client: ads, middleware: options.middleware, fleet: fleet,
                                held: fleet.sharedCache ?? HeldModules())
                        } catch is CancellationError {
                        } catch {
                            fleet.fail("stream \(index): \(error)")
                        }
                    }
                }
            }

            // 1. Every stream in sync: CDS, LDS, RDS and ECDS ACKed.
            let synced = try await fleet.wait(timeout: .seconds(300)) { state in
                state.synced == options.streams ? true : state.failures.isEmpty ? nil : false
            }
            guard synced else { throw BenchError(fleet.state.withLock { $0.failures.prefix(5).joined(separator: "\n") }) }
            let syncedAt = ContinuousClock.now
            print(String(
                format: "%d streams on %d connections in sync %.2f s after the first opened",
                options.streams, connections, seconds(syncedAt - opened)))
            let initial = fleet.state.withLock { $0.traffic }
            print(String(
                format: "  initial sync: %.1f KB of ADS resources per stream; %d module downloads (%.1f MB each), %d NACKs while fetching",
                Double(initial.adsBytes) / 1024 / Double(options.streams), initial.downloads,
                initial.downloads == 0 ? 0 : Double(initial.downloadBytes) / 1e6 / Double(initial.downloads), initial.fetchingNacks))
            try await Task.sleep(for: .seconds(2))
            let rssAfter = try residentKilobytes(pid: options.pid)
            print(String(
                format: "qpilot VmRSS %d KB with the streams: +%d KB, %.1f KB per stream",
                rssAfter, rssAfter - rssBefore, Double(rssAfter - rssBefore) / Double(options.streams)))

            // 2. Config changes: PUT, then wait for every stream's ACK of the new ECDS version.
            var reach: [Double] = []
            var allProcessed: [Double] = []
            var puts: [Double] = []
            var getLatencies: [Double] = []
            var rssByRound: [Int] = []
            var lastRevision = 0
            for round in 1...options.rounds {
                let baseline = fleet.state.withLock { $0.ecdsAcked.count == 1 ? $0.ecdsAcked.first?.key : nil }
                guard let baseline else { throw BenchError("the streams do not agree on one ECDS version") }
                let acksBefore = try await admin.pushToAckCount()
                let trafficBefore = fleet.state.withLock { $0.traffic }
                let (qpilotCPU, benchCPU) = (try cpuSeconds(pid: options.pid), try cpuSeconds(pid: nil))
                // The admin API while the change goes out: GET /v1/middleware/<name> in a loop, over
                // AsyncHTTPClient (URLSession's async calls on Linux can hang when used at once
                // from two tasks, as the PUT is).
                let probeClient = fleet.downloader?.client
                let probeURL = options.admin + "/v1/middleware/\(options.middleware)"
                let probeToken = options.token
                let probe = Task { () -> [Double] in
                    var latencies: [Double] = []
                    guard let probeClient else { return latencies }
                    while !Task.isCancelled {
                        let began = ContinuousClock.now
                        var request = HTTPClientRequest(url: probeURL)
                        request.headers.add(name: "Authorization", value: "Bearer \(probeToken)")
                        guard let response = try? await probeClient.execute(request, timeout: .seconds(30)),
                            response.status == .ok, (try? await response.body.collect(upTo: 1 << 20)) != nil
                        else { break }
                        latencies.append(milliseconds(ContinuousClock.now - began))
                        try? await Task.sleep(for: .milliseconds(5))
                    }
                    return latencies
                }
                let start = ContinuousClock.now
                let (revision, putSeconds) = try await put()
                puts.append(putSeconds)
                lastRevision = revision
                let version = try await fleet.wait(timeout: .seconds(120)) { state -> String?? in
                    if !state.failures.isEmpty { return .some(nil) }
                    guard state.ecdsAcked[baseline] == nil, state.ecdsAcked.count == 1,
                        let entry = state.ecdsAcked.first, entry.value == options.streams
                    else { return nil }
                    return .some(entry.key)
                }
                guard let version else { throw BenchError(fleet.state.withLock { $0.failures.prefix(5).joined(separator: "\n") }) }
                probe.cancel()
                getLatencies += await probe.value
                let (qpilotUsed, benchUsed) = (
                    try cpuSeconds(pid: options.pid) - qpilotCPU, try cpuSeconds(pid: nil) - benchCPU
                )
                let (firstSeen, lastAck) = fleet.state.withLock { ($0.firstSeen[version]!, $0.lastAck[version]!) }
                let total = seconds(lastAck - start)
                reach.append(total)
                // qpilot's own view: it has processed every ACK once its push-to-ACK histogram has
                // counted one more per stream (only the ECDS resource changed). /metrics is cheap
                // to poll, unlike the rollout, which lists every node.
                while try await admin.pushToAckCount() - acksBefore < options.streams {
                    guard ContinuousClock.now < start + .seconds(120) else {
                        throw BenchError("qpilot did not record \(options.streams) ACKs within 120 s")
                    }
                    try await Task.sleep(for: .milliseconds(10))
                }
                let processed = seconds(ContinuousClock.now - start)
                allProcessed.append(processed)
                let rollout = try await admin.rollout(revision)
                print(String(
                    format: "change %d (revision %d): PUT answered in %.3f s; first stream got it %.3f s after the PUT, the last ACKed it %.3f s after; qpilot had processed every ACK by %.3f s; rollout %@ (acked %d, pending %d, nacked %d)",
                    round, revision, putSeconds, seconds(firstSeen - start), total, processed, rollout.state as NSString,
                    rollout.acked, rollout.pending, rollout.nacked))
                print(String(
                    format: "  CPU from the PUT to the last ACK: qpilot %.2f s, this benchmark %.2f s; qpilot VmRSS %d KB",
                    qpilotUsed, benchUsed, try residentKilobytes(pid: options.pid)))
                rssByRound.append(try residentKilobytes(pid: options.pid))
                let traffic = fleet.state.withLock { $0.traffic }
                print(String(
                    format: "  ADS resource bytes per stream for this change: %.0f B; module downloads %d, NACKs while fetching %d",
                    Double(traffic.adsBytes - trafficBefore.adsBytes) / Double(options.streams),
                    traffic.downloads - trafficBefore.downloads, traffic.fetchingNacks - trafficBefore.fetchingNacks))
                try await Task.sleep(for: .seconds(1))
            }
            let sortedPuts = puts.sorted()
            let sortedGets = getLatencies.sorted()
            if !sortedGets.isEmpty {
                print(String(
                    format: "admin API during the changes: PUT answered p50 %.0f ms, p99 %.0f ms, max %.0f ms over %d; GET /v1/middleware/%@ p50 %.1f ms, p99 %.1f ms, max %.1f ms over %d",
                    median(sortedPuts) * 1000, percentile(sortedPuts, 99) * 1000, sortedPuts.last! * 1000, sortedPuts.count,
                    options.middleware as NSString, median(sortedGets), percentile(sortedGets, 99), sortedGets.last!, sortedGets.count))
            }
            if rssByRound.count >= 10 {
                print(String(
                    format: "qpilot VmRSS after change 10: %d KB, after change %d: %d KB (%+.1f%%)",
                    rssByRound[9], rssByRound.count, rssByRound.last!,
                    (Double(rssByRound.last!) / Double(rssByRound[9]) - 1) * 100))
            }
            let sorted = reach.sorted()
            print(String(
                format: "a change reached all %d streams (PUT sent → last ACK): median %.3f s, min %.3f s, max %.3f s over %d changes",
                options.streams, median(sorted), sorted[0], sorted[sorted.count - 1], sorted.count))
            let processedSorted = allProcessed.sorted()
            print(String(
                format: "qpilot had processed every ACK (polled every 10 ms from the last ACK on): median %.3f s, max %.3f s",
                median(processedSorted), processedSorted[processedSorted.count - 1]))
            let getStart = ContinuousClock.now
            _ = try await admin.rollout(lastRevision)
            print(String(
                format: "one GET /v1/rollouts/<n> listing %d nodes, with the fleet idle: %.1f ms",
                options.streams, milliseconds(ContinuousClock.now - getStart)))
            print("qpilot VmRSS after the changes: \(try residentKilobytes(pid: options.pid)) KB")
            print(try await admin.pushToAckHistogram())

            for client in clients { client.beginGracefulShutdown() }
            group.cancelAll()
        }
    }

    /// One ADS stream, as Envoy drives it.
    static func runStream(
        index: Int, client: Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client<HTTP2ClientTransport.Posix>,
        middleware: String, fleet: Fleet, held: HeldModules
    ) async throws {
        let (outbox, send) = AsyncStream.makeStream(of: Envoy_Service_Discovery_V3_DiscoveryRequest.self)
        var node = Envoy_Config_Core_V3_Node()
        node.id = "bench-\(index)"
        node.cluster = "default"
        node.userAgentName = "qpilot-bench"
        var first = Envoy_Service_Discovery_V3_DiscoveryRequest()
        first.node = node
        first.typeURL = clusterType
        send.yield(first)
        var listeners = Envoy_Service_Discovery_V3_DiscoveryRequest()
        listeners.typeURL = listenerType
        send.yield(listeners)

        let routes = [Names.egressRoute, Names.calloutRoute]
        let filters = [Names.filter(middleware)]
        // `held`: this stream's Envoy's modules (by sha256), as Envoy's remote code cache.
        let request = StreamingClientRequest(of: Envoy_Service_Discovery_V3_DiscoveryRequest.self) { writer in
            // Writes requests in order; after writing an ACK, records it.
            var acked: Set<String> = []
            var extensionVersion: String?
            for await message in outbox {
                try await writer.write(message)
                guard !message.responseNonce.isEmpty, !message.hasErrorDetail else { continue }
                if acked.insert(message.typeURL).inserted, acked.count == 4 { fleet.synced() }
                if message.typeURL == extensionType, message.versionInfo != extensionVersion {
                    fleet.acked(extension: message.versionInfo, replacing: extensionVersion)
                    extensionVersion = message.versionInfo
                }
            }
        }
        var options = CallOptions.defaults
        options.waitForReady = true
        try await client.streamAggregatedResources(request: request, options: options) { response in
            var subscribed = false
            var ackedExtension = ""
            for try await message in response.messages {
                fleet.count(adsBytes: message.resources.reduce(0) { $0 + $1.value.count })
                var ack = Envoy_Service_Discovery_V3_DiscoveryRequest()
                ack.typeURL = message.typeURL
                ack.versionInfo = message.versionInfo
                ack.responseNonce = message.nonce
                switch message.typeURL {
                case listenerType where !subscribed:
                    // Envoy subscribes to what a new listener names before it ACKs the listener.
                    subscribed = true
                    var rds = Envoy_Service_Discovery_V3_DiscoveryRequest()
                    rds.typeURL = routeType
                    rds.resourceNames = routes
                    send.yield(rds)
                    var ecds = Envoy_Service_Discovery_V3_DiscoveryRequest()
                    ecds.typeURL = extensionType
                    ecds.resourceNames = filters
                    send.yield(ecds)
                case routeType:
                    ack.resourceNames = routes
                case extensionType:
                    ack.resourceNames = filters
                    fleet.received(extension: message.versionInfo)
                    // As Envoy with nack_on_code_cache_miss: a module it does not hold is NACKed
                    // and downloaded in the background.
                    if let missing = remoteModules(in: message).first(where: { !held.contains($0.sha256) }) {
                        ack.versionInfo = ackedExtension
                        var status = Google_Rpc_Status()
                        status.code = 13
                        status.message = "Unable to create Wasm plugin (bench: fetching \(missing.sha256.prefix(12)))"
                        ack.errorDetail = status
                        fleet.countFetchingNack()
                        let (sha256, url) = missing
                        if held.startFetch(sha256) { Task {
                            do {
                                guard let downloader = fleet.downloader else { throw BenchError("no downloader") }
                                let bytes = try await downloader.download(url)
                                fleet.count(download: bytes)
                                held.insert(sha256)
                            } catch {
                                held.failed(sha256)
                                fleet.fail("stream \(index): download of \(url): \(error)")
                            }
                        } }
                    } else {
                        ackedExtension = message.versionInfo
                    }
                default:
                    break
                }
                send.yield(ack)
            }
            send.finish()
        }
    }

    /// The modules an ECDS response has Envoy fetch by URL.
    static func remoteModules(in message: Envoy_Service_Discovery_V3_DiscoveryResponse) -> [(sha256: String, url: String)] {
        message.resources.compactMap { any in
            guard let config = try? Envoy_Config_Core_V3_TypedExtensionConfig(serializedBytes: any.value),
                let wasm = try? Envoy_Extensions_Filters_Http_Wasm_V3_Wasm(unpackingAny: config.typedConfig),
                case .remote(let remote) = wasm.config.vmConfig.code.specifier
            else { return nil }
            return (remote.sha256, remote.httpUri.uri)
        }
    }

    static func seconds(_ duration: Duration) -> Double { milliseconds(duration) / 1000 }

    /// User plus system CPU time of a process (nil: this one) so far, in seconds.
    static func cpuSeconds(pid: Int32?) throws -> Double {
        let path = pid.map { "/proc/\($0)/stat" } ?? "/proc/self/stat"
        let stat = try String(contentsOfFile: path, encoding: .utf8)
        // Fields after the command name, which is in parentheses: utime and stime are 14 and 15.
        guard let close = stat.lastIndex(of: ")") else { throw BenchError("unreadable \(path)") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw BenchError("unreadable \(path)")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// VmRSS of a process, in KB.
    static func residentKilobytes(pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        else { throw BenchError("no VmRSS in /proc/\(pid)/status") }
        return kilobytes
    }
}

/// What every stream has reached, shared by all of them.
final class Fleet: Sendable {
    struct Traffic {
        /// Resource bytes (the `Any` values) in every ADS response received.
        var adsBytes = 0
        var downloads = 0
        var downloadBytes = 0
        var fetchingNacks = 0
    }

    struct State {
        var traffic = Traffic()
        var synced = 0
        /// Streams per ECDS version they ACKed last.
        var ecdsAcked: [String: Int] = [:]
        /// When the first stream received each ECDS version, and when the last one ACKed it.
        var firstSeen: [String: ContinuousClock.Instant] = [:]
        var lastAck: [String: ContinuousClock.Instant] = [:]
        var failures: [String] = []
    }

    let state = Mutex(State())
    /// Where a stream downloads a module delivered `remote`; nil: such a module fails the stream.
    let downloader: Downloader?
    /// The module cache of every stream, with `--shared-cache`.
    let sharedCache: HeldModules?

    init(downloader: Downloader? = nil, sharedCache: HeldModules? = nil) {
        self.downloader = downloader
        self.sharedCache = sharedCache
    }

    func synced() { state.withLock { $0.synced += 1 } }
    func count(adsBytes: Int) { state.withLock { $0.traffic.adsBytes += adsBytes } }
    func countFetchingNack() { state.withLock { $0.traffic.fetchingNacks += 1 } }
    func count(download bytes: Int) {
        state.withLock { state in
            state.traffic.downloads += 1
            state.traffic.downloadBytes += bytes
        }
    }

    func received(extension version: String) {
        let now = ContinuousClock.now
        state.withLock { state in
            if state.firstSeen[version] == nil { state.firstSeen[version] = now }
        }
    }

    func acked(extension version: String, replacing old: String?) {
        let now = ContinuousClock.now
        state.withLock { state in
            if let old {
                state.ecdsAcked[old, default: 0] -= 1
                if state.ecdsAcked[old] == 0 { state.ecdsAcked[old] = nil }
            }
            state.ecdsAcked[version, default: 0] += 1
            state.lastAck[version] = now
        }
    }

    func fail(_ message: String) { state.withLock { $0.failures.append(message) } }

    /// Polls every millisecond until `check` returns a value; `lastAck` keeps the exact instants,
    /// so the polling interval does not enter the figures.
    func wait<Result: Sendable>(timeout: Duration, _ check: (State) -> Result?) async throws -> Result {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let result = state.withLock({ check($0) }) { return result }
            try await Task.sleep(for: .milliseconds(1))
        }
        let summary = state.withLock { "synced \($0.synced), ECDS versions \($0.ecdsAcked), failures \($0.failures.prefix(3))" }
        throw BenchError("timed out: \(summary)")
    }
}

/// The modules one stream's Envoy holds, by sha256: its remote code cache. As Envoy's, a module
/// being downloaded is not downloaded again.
final class HeldModules: Sendable {
    private let modules = Mutex<[String: Bool]>([:])
    func contains(_ sha256: String) -> Bool { modules.withLock { $0[sha256] == true } }
    /// True when the download should start: the module is neither held nor on its way.
    func startFetch(_ sha256: String) -> Bool {
        modules.withLock { modules in
            guard modules[sha256] == nil else { return false }
            modules[sha256] = false
            return true
        }
    }
    func insert(_ sha256: String) { modules.withLock { $0[sha256] = true } }
    func failed(_ sha256: String) { modules.withLock { $0[sha256] = nil } }
}

/// Downloads modules as the streams' Envoys would, over one pool of HTTP/1.1 connections, reading
/// each body as it streams and only counting it.
final class Downloader: Sendable {
    let client: HTTPClient

    init(connections: Int = 256) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connections)
        // Thousands of downloads queue for the pool's connections: the wait for one counts
        // against the connect timeout, so it is long.
        configuration.timeout = .init(connect: .seconds(900), read: .seconds(120))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// Retries as Envoy's `qpilot_modules` fetch does (5 retries, 1–10 s backoff).
    func download(_ url: String) async throws -> Int {
        var delay = Duration.seconds(1)
        for attempt in 0... {
            do {
                let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(900))
                guard response.status == .ok else { throw BenchError("\(url): \(response.status)") }
                var bytes = 0
                for try await chunk in response.body { bytes += chunk.readableBytes }
                return bytes
            } catch where attempt < 5 {
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(10))
            }
        }
        throw BenchError("unreachable")
    }

    func shutdown() { try? client.syncShutdown() }
}

/// The few admin API calls the benchmark makes.
struct AdminClient {
    let base: String
    let token: String

    func putMiddleware(name: String, source: String, config: String, delivery: String? = nil) async throws -> Int {
        var spec = ["name": name, "source": source, "config": config]
        if let delivery { spec["delivery"] = delivery }
        let body = try JSONSerialization.data(withJSONObject: spec)
        let answer = try await call("PUT", "/v1/middleware/\(name)", body: body, expecting: [200, 201])
        guard let object = try JSONSerialization.jsonObject(with: answer) as? [String: Any],
            let revision = object["revision"] as? Int
        else { throw BenchError("PUT answered without a revision") }
        return revision
    }

    struct Rollout {
        var state: String
        var acked: Int
        var pending: Int
        var nacked: Int
    }

    /// `state`, `acked`, `pending` and `nacked` of a rollout.
    func rollout(_ revision: Int) async throws -> Rollout {
        let answer = try await call("GET", "/v1/rollouts/\(revision)", body: nil, expecting: [200])
        guard let object = try JSONSerialization.jsonObject(with: answer) as? [String: Any],
            let state = object["state"] as? String
        else { throw BenchError("unreadable rollout \(revision)") }
        return Rollout(
            state: state, acked: object["acked"] as? Int ?? -1, pending: object["pending"] as? Int ?? -1,
            nacked: object["nacked"] as? Int ?? -1)
    }

    /// `qpilot_xds_push_to_ack_seconds_count`: the ACKs qpilot has processed of versions it had just sent.
    func pushToAckCount() async throws -> Int {
        let text = String(decoding: try await call("GET", "/metrics", body: nil, expecting: [200]), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("qpilot_xds_push_to_ack_seconds_count ") }),
            let count = Double(line.split(separator: " ")[1])
        else { return 0 }
        return Int(count)
    }

    func pushToAckHistogram() async throws -> String {
        let text = String(decoding: try await call("GET", "/metrics", body: nil, expecting: [200]), as: UTF8.self)
        return text.split(separator: "\n").filter { $0.hasPrefix("qpilot_xds_push_to_ack_seconds") }.joined(separator: "\n")
    }

    private func call(_ method: String, _ path: String, body: Data?, expecting: Set<Int>) async throws -> Data {
        guard let url = URL(string: base + path) else { throw BenchError("bad URL \(base + path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.timeoutInterval = 120
        if let body {
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard expecting.contains(status) else {
            throw BenchError("\(method) \(path) answered \(status): \(String(decoding: data, as: UTF8.self))")
        }
        return data
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
