import EnvoyAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The load-and-fault run's two clients (scripts/load-and-fault drives them and the faults).
///
/// `hold`: opens N SotW ADS streams as Envoy drives them (FanoutBenchmark.runStream) and keeps
/// them: a stream that ends (qpilot killed, restarted) is opened again after 0.5 s, as Envoy
/// retries. Every 2 s it prints `hold t=… open=… synced=… reopened=…`, where synced counts the
/// streams that ACKed all four types since they last opened.
///
/// `admin`: sends R admin requests, C at a time: nine GETs (nodes, middleware, revisions) for each
/// PUT of a middleware's config; prints each kind's latency percentiles and status counts, and the
/// revisions that PUTs got a 2xx for (the script checks each is in the history).
enum FaultRun {
    /// `--name value` pairs, refusing a name not in `known`.
    static func options(_ arguments: [String], known: Set<String>, usage: String) throws -> [String: String] {
        var result: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            guard known.contains(arguments[index]), index + 1 < arguments.count else { throw BenchError(usage) }
            result[arguments[index]] = arguments[index + 1]
            index += 2
        }
        return result
    }

    static func hold(_ arguments: [String]) async throws {
        let usage = "usage: qpilot-bench hold --xds HOST:PORT [--streams N] [--per-connection N] [--seconds S] [--middleware NAME]"
        let given = try options(arguments, known: ["--xds", "--streams", "--per-connection", "--seconds", "--middleware"], usage: usage)
        let address = (given["--xds"] ?? "").split(separator: ":")
        guard address.count == 2, let port = Int(address[1]) else { throw BenchError(usage) }
        let xds = (String(address[0]), port)
        let streams = given["--streams"].flatMap(Int.init) ?? 10_000
        let perConnection = given["--per-connection"].flatMap(Int.init) ?? 100
        let seconds = given["--seconds"].flatMap(Int.init) ?? 300
        let middleware = given["--middleware"] ?? "bench"
        let counts = Shared((open: 0, reopened: 0))
        // The current attempt of each stream; an attempt counts as synced once it ACKed all four types.
        let attempts = Shared([Int: Fleet]())
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            let connections = (streams + perConnection - 1) / perConnection
            var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
            for connection in 0..<connections {
                let transport = try HTTP2ClientTransport.Posix(
                    target: .ipv4(address: xds.0, port: xds.1), transportSecurity: .plaintext,
                    config: .defaults { $0.connection.maxIdleTime = nil })
                let client = GRPCClient(transport: transport)
                clients.append(client)
                group.addTask { try await client.runConnections() }
                let ads = Envoy_Service_Discovery_V3_AggregatedDiscoveryService.Client(wrapping: client)
                let first = connection * perConnection
                for stream in first..<min(streams, first + perConnection) {
                    group.addTask {
                        var opened = 0
                        while !Task.isCancelled {
                            let fleet = Fleet()
                            attempts.withLock { $0[stream] = fleet }
                            counts.withLock { counts in
                                counts.open += 1
                                if opened > 0 { counts.reopened += 1 }
                            }
                            opened += 1
                            try? await FanoutBenchmark.runStream(
                                index: stream, client: ads, middleware: middleware, fleet: fleet, held: HeldModules())
                            counts.withLock { $0.open -= 1 }
                            try? await Task.sleep(for: .milliseconds(500))
                        }
                    }
                }
            }
            group.addTask {
                while ContinuousClock.now - start < .seconds(seconds) {
                    try await Task.sleep(for: .seconds(2))
                    let synced = attempts.withLock { $0.values.filter { $0.state.withLock { $0.synced > 0 } }.count }
                    let (open, reopened) = counts.withLock { ($0.open, $0.reopened) }
                    print(String(
                        format: "hold t=%.0f open=%d synced=%d reopened=%d", FanoutBenchmark.seconds(ContinuousClock.now - start),
                        open, synced, reopened))
                }
                for client in clients { client.beginGracefulShutdown() }
                throw CancellationError()
            }
            do {
                try await group.next()
            } catch is CancellationError {}
            group.cancelAll()
        }
    }

    static func admin(_ arguments: [String]) async throws {
        let usage = "usage: qpilot-bench admin --admin URL --token-file FILE --module /abs.wasm [--requests N] [--concurrency N]"
        let given = try options(
            arguments, known: ["--admin", "--token-file", "--requests", "--concurrency", "--module"], usage: usage)
        guard let base = given["--admin"], let tokenFile = given["--token-file"], let module = given["--module"] else {
            throw BenchError(usage)
        }
        let token = try String(contentsOfFile: tokenFile, encoding: .utf8).split(separator: "\n")
            .first { !$0.hasPrefix("#") && !$0.isEmpty }.map { String($0.split(separator: " ")[0]) } ?? ""
        let requests = given["--requests"].flatMap(Int.init) ?? 2000
        let concurrency = given["--concurrency"].flatMap(Int.init) ?? 100
        struct Result: Sendable {
            var kind: String
            var status: Int
            var milliseconds: Double
            var revision: Int?
        }
        let results = Shared([Result]())
        let next = Shared(0)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let number: Int? = next.withLock { value in
                            guard value < requests else { return nil }
                            value += 1
                            return value
                        }
                        guard let number else { return }
                        let isWrite = number % 10 == 0
                        // Every fifth write changes the middleware every held stream has: a fan-out.
                        let name = number % 50 == 0 ? "bench" : "load-\(number % 5)"
                        // Reads an operator makes: one node, the chain, the history, a rollout; and every
                        // 100th, the whole fleet's node list (10,000 nodes, megabytes of JSON).
                        let paths = [
                            "/v1/nodes/bench-\(number % 1000)", "/v1/middleware", "/v1/revisions?limit=20", "/v1/rollouts/2",
                        ]
                        let read = number % 100 == 1 ? "/v1/nodes?fleet=default" : paths[number % 4]
                        let kind = isWrite ? "PUT" : read.hasPrefix("/v1/nodes?") ? "GET all nodes" : "GET"
                        var request = URLRequest(url: URL(string: base + (isWrite ? "/v1/middleware/\(name)" : read))!)
                        request.timeoutInterval = isWrite ? 130 : 60
                        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
                        if isWrite {
                            request.httpMethod = "PUT"
                            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                            var body: [String: Any] = ["name": name, "source": module, "config": "load-\(number)"]
                            if name != "bench" { body["fleets"] = ["load"] }
                            request.httpBody = try JSONSerialization.data(withJSONObject: body)
                        }
                        let began = ContinuousClock.now
                        var status = 0
                        var revision: Int?
                        do {
                            let (data, response) = try await URLSession.shared.data(for: request)
                            status = (response as? HTTPURLResponse)?.statusCode ?? 0
                            if isWrite, (200..<300).contains(status) {
                                revision = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["revision"] as? Int
                            }
                        } catch {
                            status = -1
                        }
                        let result = Result(
                            kind: kind, status: status, milliseconds: milliseconds(ContinuousClock.now - began),
                            revision: revision)
                        results.withLock { $0.append(result) }
                    }
                }
            }
            try await group.waitForAll()
        }
        let all = results.withLock { $0 }
        for kind in ["GET", "GET all nodes", "PUT"] {
            let mine = all.filter { $0.kind == kind }
            let times = mine.map(\.milliseconds).sorted()
            guard !times.isEmpty else { continue }
            func percentile(_ p: Double) -> Double { times[min(times.count - 1, Int(Double(times.count) * p))] }
            let statuses = Dictionary(grouping: mine, by: \.status).mapValues(\.count).sorted { $0.key < $1.key }
            print(String(
                format: "admin %@: %d requests, p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms; statuses %@", kind, mine.count,
                percentile(0.5), percentile(0.9), percentile(0.99), times.last!,
                statuses.map { "\($0.key == -1 ? "no answer" : String($0.key))×\($0.value)" }.joined(separator: " ")))
        }
        let committed = Set(all.compactMap(\.revision)).sorted()
        print("admin committed revisions: \(committed.map(String.init).joined(separator: " "))")
    }
}

/// A value tasks share, behind a lock.
final class Shared<Value: Sendable>: Sendable {
    private let state: Mutex<Value>
    init(_ value: Value) { state = Mutex(value) }
    func withLock<Result>(_ body: (inout Value) -> Result) -> Result { state.withLock { body(&$0) } }
}
