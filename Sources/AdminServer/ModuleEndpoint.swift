import CoreMetrics
import DequeModule
import Foundation
import Hummingbird
import Logging
import Modules
import NIOCore
import ServiceLifecycle
import Synchronization

/// The HTTP server Envoy fetches `remote` modules from, plus health probes.
///
/// Routes:
/// - `GET /modules/sha256/<hex>`: the exact stored bytes, with a strong ETag (the digest),
///   `If-None-Match`, and single byte ranges (`Range: bytes=…`, RFC 9110 section 14).
/// - `GET /healthz`: 200 while the process runs.
/// - `GET /readyz`: 200 once a config has been loaded and published, else 503.
///
/// Many Envoys fetch the same module at once after a push. Each module is held in memory once
/// (`ModuleCache`) and every response writes that same buffer, in slices of `chunkBytes`; at
/// most `maxConcurrentDownloads` bodies are written at a time and the others wait their turn in
/// arrival order (none is refused). Metrics: `qpilot_module_requests_total{status}`,
/// `qpilot_module_bytes_sent_total`, `qpilot_module_downloads_active`,
/// `qpilot_module_downloads_waiting`, `qpilot_module_cache_bytes`.
public enum ModuleEndpoint {
    /// One download as the module endpoint sees it.
    public enum DownloadEvent: Sendable, Equatable {
        case started
        /// The whole module was written.
        case completed
        /// Anything else: another status than 200, a partial range, or the connection went away.
        case failed(String)
    }

    /// Told of each `GET` of a module that carries a query parameter `s` (an ADS stream's token
    /// and attempt, which qpilot puts in the module URLs it sends): the value, the module's
    /// sha256, and what happened. Must not block.
    public typealias DownloadObserver = @Sendable (_ stream: String, _ digest: String, _ event: DownloadEvent) -> Void

    /// Connections the kernel queues before qpilot accepts them: after a push, every Envoy of a
    /// fleet connects at once (the kernel caps it at net.core.somaxconn).
    public static let backlog = 4096
    /// Bodies written at once; the rest wait.
    public static let maxConcurrentDownloads = 256
    /// The slice of a module written at a time, so a slow reader holds one slice in flight.
    static let chunkBytes = 256 * 1024

    /// Builds the application; run it in a ServiceGroup.
    public static func application(
        host: String, port: Int, store: ModuleStore, ready: @escaping @Sendable () -> Bool, logger: Logger,
        idleTimeout: TimeAmount = HTTPServerSettings.idleTimeout
    ) -> some ApplicationProtocol & Service {
        Application(
            router: router(store: store, ready: ready),
            server: HTTPServerSettings.http1(idleTimeout: idleTimeout),
            configuration: .init(address: .hostname(host, port: port), serverName: "qpilot", backlog: backlog),
            logger: logger)
    }

    /// The routes; tests drive them in memory.
    public static func router(
        store: ModuleStore, ready: @escaping @Sendable () -> Bool, cache: ModuleCache? = nil,
        gate: DownloadGate = DownloadGate(limit: maxConcurrentDownloads), observer: DownloadObserver? = nil
    ) -> Router<BasicRequestContext> {
        let router = Router()
        let cache = cache ?? ModuleCache(store: store)
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            let isReady = ready()
            return Response(
                status: isReady ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: isReady ? "ready\n" : "not ready: no config published yet\n")))
        }
        let handler = moduleHandler(cache, gate)
        router.on("/modules/sha256/:digest", method: .head) { request, context -> Response in
            try await counted { try await handler(request, context, nil) }
        }
        router.on("/modules/sha256/:digest", method: .get) { request, context -> Response in
            // An ADS stream's download: tell the observer how it goes.
            let report: (@Sendable (DownloadEvent) -> Void)? = observer.flatMap { observer in
                guard let stream = request.uri.queryParameters.get("s"), let digest = context.parameters.get("digest"),
                    ModuleStore.isDigest(digest)
                else { return nil }
                return { observer(stream, digest, $0) }
            }
            report?(.started)
            do {
                let response = try await counted { try await handler(request, context, report) }
                if response.status != .ok { report?(.failed("qpilot answered \(response.status.code)")) }
                return response
            } catch let error as HTTPError {
                report?(.failed("qpilot answered \(error.status.code): \(error.body ?? "")"))
                throw error
            } catch {
                report?(.failed("qpilot could not answer: \(error)"))
                throw error
            }
        }
        return router
    }

    /// Counts each module response by status.
    static func counted(_ body: () async throws -> Response) async throws -> Response {
        do {
            let response = try await body()
            Counter(label: "qpilot_module_requests_total", dimensions: [("status", "\(response.status.code)")]).increment()
            return response
        } catch let error as HTTPError {
            Counter(label: "qpilot_module_requests_total", dimensions: [("status", "\(error.status.code)")]).increment()
            throw error
        }
    }

    /// A body that writes `bytes` (a slice of a shared buffer) once the gate lets it, in chunks;
    /// `report` hears whether all of it was written.
    static func body(_ bytes: ByteBuffer, gate: DownloadGate, report: (@Sendable (DownloadEvent) -> Void)? = nil) -> ResponseBody {
        ResponseBody(contentLength: bytes.readableBytes) { writer in
            await gate.enter()
            defer { gate.leave() }
            var rest = bytes
            do {
                while let chunk = rest.readSlice(length: min(chunkBytes, rest.readableBytes)), chunk.readableBytes > 0 {
                    try await writer.write(chunk)
                    Counter(label: "qpilot_module_bytes_sent_total").increment(by: Int64(chunk.readableBytes))
                }
                try await writer.finish(nil)
            } catch {
                report?(.failed("the connection ended after \(bytes.readableBytes - rest.readableBytes) of \(bytes.readableBytes) bytes"))
                throw error
            }
            report?(.completed)
        }
    }

    static func moduleHandler(
        _ cache: ModuleCache, _ gate: DownloadGate
    ) -> @Sendable (Request, BasicRequestContext, (@Sendable (DownloadEvent) -> Void)?) async throws -> Response {
        { request, context, report -> Response in
            let digest = try context.parameters.require("digest")
            guard ModuleStore.isDigest(digest) else {
                throw HTTPError(.badRequest, message: "a module is named by 64 lowercase hex digits of its sha256")
            }
            let etag = "\"\(digest)\""
            if request.headers[.ifNoneMatch] == etag {
                return Response(status: .notModified, headers: [.eTag: etag])
            }
            guard let bytes = await cache.buffer(digest) else {
                throw HTTPError(.notFound, message: "no module with sha256 \(digest)")
            }
            Gauge(label: "qpilot_module_cache_bytes").record(cache.heldBytes)
            var headers: HTTPFields = [
                .contentType: "application/wasm", .eTag: etag, .cacheControl: "public, max-age=31536000, immutable",
                .acceptRanges: "bytes",
            ]
            // A Range is honoured unless If-Range names another version.
            if request.method == .head {
                headers[.contentLength] = String(bytes.readableBytes)
                return Response(status: .ok, headers: headers)
            }
            if let range = request.headers[.range], request.headers[.ifRange].map({ $0 == etag }) ?? true {
                switch ByteRange.parse(range, length: bytes.readableBytes) {
                case .range(let start, let end):
                    headers[.contentRange] = "bytes \(start)-\(end)/\(bytes.readableBytes)"
                    let slice = bytes.getSlice(at: bytes.readerIndex + start, length: end - start + 1)!
                    return Response(status: .partialContent, headers: headers, body: body(slice, gate: gate))
                case .unsatisfiable:
                    headers[.contentRange] = "bytes */\(bytes.readableBytes)"
                    return Response(status: .rangeNotSatisfiable, headers: headers)
                case .ignore:
                    break
                }
            }
            return Response(status: .ok, headers: headers, body: body(bytes, gate: gate, report: report))
        }
    }
}

/// At most `limit` holders at once; the others wait in arrival order. Waiting is never refused:
/// a module download that has to wait is slower, not failed.
public final class DownloadGate: Sendable {
    private struct State {
        var available: Int
        var waiting = Deque<CheckedContinuation<Void, Never>>()
    }

    public let limit: Int
    private let state: Mutex<State>

    public init(limit: Int) {
        self.limit = max(1, limit)
        state = Mutex(State(available: max(1, limit)))
    }

    public func enter() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let admitted = state.withLock { state -> Bool in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            record()
            if admitted { continuation.resume() }
        }
    }

    public func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if let next = state.waiting.popFirst() { return next }
            state.available += 1
            return nil
        }
        record()
        next?.resume()
    }

    /// Holders now, and waiters.
    public var counts: (active: Int, waiting: Int) {
        state.withLock { (limit - $0.available, $0.waiting.count) }
    }

    private func record() {
        let (active, waiting) = counts
        Gauge(label: "qpilot_module_downloads_active").record(active)
        Gauge(label: "qpilot_module_downloads_waiting").record(waiting)
    }
}
