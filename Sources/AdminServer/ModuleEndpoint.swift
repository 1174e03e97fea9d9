import Hummingbird
import Logging
import Modules
import NIOCore
import ServiceLifecycle

/// The HTTP server Envoy fetches `remote` modules from, plus health probes.
///
/// Routes:
/// - `GET /modules/sha256/<hex>`: the exact stored bytes, with a strong ETag (the digest).
/// - `GET /healthz`: 200 while the process runs.
/// - `GET /readyz`: 200 once a config has been loaded and published, else 503.
public enum ModuleEndpoint {
    /// Builds the application; run it in a ServiceGroup.
    public static func application(
        host: String, port: Int, store: ModuleStore, ready: @escaping @Sendable () -> Bool, logger: Logger
    ) -> some ApplicationProtocol & Service {
        let router = Router()
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            let isReady = ready()
            return Response(
                status: isReady ? .ok : .serviceUnavailable,
                body: .init(byteBuffer: ByteBuffer(string: isReady ? "ready\n" : "not ready: no config published yet\n")))
        }
        router.get("/modules/sha256/:digest") { request, context -> Response in
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
            return Response(
                status: .ok,
                headers: [.contentType: "application/wasm", .eTag: etag, .cacheControl: "public, max-age=31536000, immutable"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "qpilot"),
            logger: logger)
    }
}
