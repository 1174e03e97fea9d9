import Foundation
import Hummingbird
import Logging
import Modules
import NIOCore
import ServiceLifecycle

/// The HTTP server Envoy fetches `remote` modules from, plus health probes.
///
/// Routes:
/// - `GET /modules/sha256/<hex>`: the exact stored bytes, with a strong ETag (the digest),
///   `If-None-Match`, and single byte ranges (`Range: bytes=…`, RFC 9110 section 14).
/// - `GET /healthz`: 200 while the process runs.
/// - `GET /readyz`: 200 once a config has been loaded and published, else 503.
public enum ModuleEndpoint {
    /// Builds the application; run it in a ServiceGroup.
    public static func application(
        host: String, port: Int, store: ModuleStore, ready: @escaping @Sendable () -> Bool, logger: Logger,
        idleTimeout: TimeAmount = HTTPServerSettings.idleTimeout
    ) -> some ApplicationProtocol & Service {
        Application(
            router: router(store: store, ready: ready),
            server: HTTPServerSettings.http1(idleTimeout: idleTimeout),
            configuration: .init(address: .hostname(host, port: port), serverName: "qpilot"),
            logger: logger)
    }

    /// The routes; tests drive them in memory.
    public static func router(store: ModuleStore, ready: @escaping @Sendable () -> Bool) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            let isReady = ready()
            return Response(
                status: isReady ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: isReady ? "ready\n" : "not ready: no config published yet\n")))
        }
        router.on("/modules/sha256/:digest", method: .head, use: moduleHandler(store))
        router.on("/modules/sha256/:digest", method: .get, use: moduleHandler(store))
        return router
    }

    static func moduleHandler(_ store: ModuleStore) -> @Sendable (Request, BasicRequestContext) async throws -> Response {
        { request, context -> Response in
            let digest = try context.parameters.require("digest")
            guard ModuleStore.isDigest(digest) else {
                throw HTTPError(.badRequest, message: "a module is named by 64 lowercase hex digits of its sha256")
            }
            let etag = "\"\(digest)\""
            if request.headers[.ifNoneMatch] == etag {
                return Response(status: .notModified, headers: [.eTag: etag])
            }
            guard let bytes = store.get(digest) else {
                throw HTTPError(.notFound, message: "no module with sha256 \(digest)")
            }
            var headers: HTTPFields = [
                .contentType: "application/wasm", .eTag: etag, .cacheControl: "public, max-age=31536000, immutable",
                .acceptRanges: "bytes",
            ]
            // A Range is honoured unless If-Range names another version.
            if request.method == .head {
                headers[.contentLength] = String(bytes.count)
                return Response(status: .ok, headers: headers)
            }
            if let range = request.headers[.range], request.headers[.ifRange].map({ $0 == etag }) ?? true {
                switch ByteRange.parse(range, length: bytes.count) {
                case .range(let start, let end):
                    headers[.contentRange] = "bytes \(start)-\(end)/\(bytes.count)"
                    let slice = bytes[bytes.startIndex + start...bytes.startIndex + end]
                    return Response(status: .partialContent, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: slice)))
                case .unsatisfiable:
                    headers[.contentRange] = "bytes */\(bytes.count)"
                    return Response(status: .rangeNotSatisfiable, headers: headers)
                case .ignore:
                    break
                }
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }
}
