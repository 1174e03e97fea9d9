import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import QpilotAPI
import ServiceLifecycle

/// The admin API (`/v1/…`, JSON). Every route needs `Authorization: Bearer <token>`; writes
/// need an `admin` token. docs/api.md and docs/openapi.yaml describe each route.
public enum AdminAPI {
    /// The largest request body accepted: documents are small, and nothing a client sends may
    /// exhaust qpilot's memory.
    public static let maxBodyBytes = 1024 * 1024

    public static func application(
        host: String, port: Int, tokens: Tokens, backend: any AdminBackend, logger: Logger,
        onResponse: (@Sendable (Int) -> Void)? = nil, idleTimeout: TimeAmount = HTTPServerSettings.idleTimeout,
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) -> some ApplicationProtocol & Service {
        Application(
            router: router(tokens: tokens, backend: backend, onResponse: onResponse),
            server: HTTPServerSettings.http1(idleTimeout: idleTimeout),
            configuration: .init(address: .hostname(host, port: port), serverName: "qpilot"),
            eventLoopGroupProvider: eventLoopGroup.map { .shared($0) } ?? .singleton, logger: logger)
    }

    /// Every route, behind the token check; tests drive it in memory.
    public static func router(
        tokens: Tokens, backend: any AdminBackend, onResponse: (@Sendable (Int) -> Void)? = nil
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: StatusCounter(onResponse: onResponse))
        router.add(middleware: BearerAuth(tokens: tokens))
        addReadRoutes(router, backend)
        addWriteRoutes(router, backend)
        addSecretRoutes(router, backend)
        addInterceptRoutes(router, backend)
        addEnrolmentRoutes(router, backend)
        return router
    }

    static func addReadRoutes(_ router: Router<BasicRequestContext>, _ backend: any AdminBackend) {
        router.get("/v1/nodes") { request, _ -> Response in
            let fleet = request.uri.queryParameters["fleet"].map(String.init)
            return try json(NodeList(nodes: await backend.nodes().filter { fleet == nil || $0.fleet == fleet }))
        }
        router.get("/v1/nodes/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard let node = await backend.node(id) else {
                throw AdminError(.notFound, .notFound, "no node with id '\(id)' has connected")
            }
            return try json(node)
        }
        router.get("/v1/config") { _, _ -> Response in try json(backend.configStatus()) }
        router.get("/v1/middleware") { _, _ -> Response in
            let list = try await backend.middleware()
            var response = try json(list)
            response.headers[.eTag] = "\"\(list.revision)\""
            return response
        }
        router.get("/v1/middleware/:name") { _, context -> Response in
            let name = try pathName(context)
            let list = try await backend.middleware()
            guard let spec = list.middleware.first(where: { $0.name == name }) else {
                throw AdminError(.notFound, .notFound, "no middleware named '\(name)'; `qctl get` lists them")
            }
            var response = try json(spec)
            response.headers[.eTag] = "\"\(list.revision)\""
            return response
        }
        router.get("/v1/revisions") { request, _ -> Response in
            let limit = try request.uri.queryParameters["limit"].map { text throws(AdminError) -> Int in
                guard let value = Int(text), value > 0 else { throw .invalid("limit is a positive number") }
                return value
            } ?? 50
            return try json(try await backend.revisions(limit: min(limit, RevisionList.maxLimit)))
        }
        router.get("/v1/revisions/:n") { _, context -> Response in
            try json(try await backend.revision(try revisionNumber(context)))
        }
        router.get("/v1/rollouts/:n") { _, context -> Response in
            try json(try await backend.rollout(try revisionNumber(context)))
        }
        router.get("/v1/bootstrap") { request, _ -> Response in
            let query = request.uri.queryParameters
            guard let node = query["node"].map(String.init) else {
                throw AdminError.invalid("say which Envoy: ?node=<node id>[&fleet=<fleet>]")
            }
            let adminPort = try query["adminPort"].map { text throws(AdminError) -> Int in
                guard let port = Int(text) else { throw .invalid("adminPort is a port number") }
                return port
            } ?? 9901
            let yaml = try backend.bootstrap(
                nodeID: node, fleet: query["fleet"].map(String.init) ?? "default", delta: query["delta"] == "true",
                adminPort: adminPort)
            return Response(
                status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: yaml)))
        }
        router.get("/v1/ca") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/x-pem-file"],
                body: .init(byteBuffer: ByteBuffer(string: backend.certificateAuthority())))
        }
        router.get("/v1/tls") { _, _ -> Response in
            try json(backend.interception())
        }
        router.get("/metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(string: backend.metrics())))
        }
    }

    static func addWriteRoutes(_ router: Router<BasicRequestContext>, _ backend: any AdminBackend) {
        router.put("/v1/middleware/:name") { request, context -> Response in
            let name = try pathName(context)
            var body = request
            var spec = try await decode(MiddlewareSpec.self, from: &body)
            guard spec.name == name else {
                throw AdminError.invalid("the body names '\(spec.name)' but the path names '\(name)'; make them agree")
            }
            spec.resolvedSHA256 = nil
            let outcome = try await backend.write(.put(spec), expected: try expected(request), actor: actor(request))
            return try json(outcome.result, status: outcome.created ? .created : .ok)
        }
        router.post("/v1/middleware") { request, _ -> Response in
            var body = request
            var spec = try await decode(MiddlewareSpec.self, from: &body)
            spec.resolvedSHA256 = nil
            let outcome = try await backend.write(.create(spec), expected: try expected(request), actor: actor(request))
            return try json(outcome.result, status: .created)
        }
        router.delete("/v1/middleware/:name") { request, context -> Response in
            let name = try pathName(context)
            return try json(try await backend.write(.delete(name: name), expected: try expected(request), actor: actor(request)).result)
        }
        for (verb, enabled) in [("enable", true), ("disable", false)] {
            router.post("/v1/middleware/:name/\(verb)") { request, context -> Response in
                let name = try pathName(context)
                return try json(
                    try await backend.write(
                        .setEnabled(name: name, enabled: enabled), expected: try expected(request), actor: actor(request)).result)
            }
        }
        router.post("/v1/apply") { request, _ -> Response in
            var body = request
            var document = try await decode(ApplyDocument.self, from: &body)
            for index in document.middleware.indices { document.middleware[index].resolvedSHA256 = nil }
            return try json(try await backend.write(.apply(document.middleware), expected: try expected(request), actor: actor(request)).result)
        }
        router.post("/v1/revisions/:n/rollback") { request, context -> Response in
            let number = try revisionNumber(context)
            return try json(try await backend.write(.rollback(to: number), expected: try expected(request), actor: actor(request)).result)
        }
        router.post("/v1/modules/validate") { request, _ -> Response in
            var body = request
            return try json(try await backend.validate(try await decode(ValidateRequest.self, from: &body)))
        }
    }

    static func addSecretRoutes(_ router: Router<BasicRequestContext>, _ backend: any AdminBackend) {
        router.get("/v1/secrets") { _, _ -> Response in
            try json(try await backend.secrets())
        }
        router.put("/v1/secrets/:name") { request, context -> Response in
            let name = try pathName(context)
            var body = request
            let write = try await decode(SecretWrite.self, from: &body)
            return try json(try await backend.setSecret(name: name, value: write.value, actor: actor(request)))
        }
        router.delete("/v1/secrets/:name") { request, context -> Response in
            let name = try pathName(context)
            try await backend.deleteSecret(name: name, actor: actor(request))
            return Response(status: .noContent)
        }
    }

    static func addInterceptRoutes(_ router: Router<BasicRequestContext>, _ backend: any AdminBackend) {
        router.get("/v1/tls/intercept") { _, _ -> Response in
            try json(try await backend.intercepts())
        }
        router.put("/v1/tls/intercept/:name") { request, context -> Response in
            let host = try pathName(context)
            var body = request
            let write = try await decode(InterceptWrite.self, from: &body)
            return try json(try await backend.setIntercept(host: host, fleets: write.fleets, actor: actor(request)))
        }
        router.delete("/v1/tls/intercept/:name") { request, context -> Response in
            try json(try await backend.deleteIntercept(host: try pathName(context), actor: actor(request)))
        }
    }

    static func addEnrolmentRoutes(_ router: Router<BasicRequestContext>, _ backend: any AdminBackend) {
        router.get("/v1/enrolment/tokens") { _, _ -> Response in try json(try await backend.tokens()) }
        router.post("/v1/enrolment/tokens") { request, _ -> Response in
            var body = request
            let token = try await decode(TokenRequest.self, from: &body)
            return try json(try await backend.createToken(token, actor: actor(request)), status: .created)
        }
        router.get("/v1/enrolment/nodes") { _, _ -> Response in try json(try await backend.enrolledNodes()) }
        router.post("/v1/nodes/:id/revoke") { request, context -> Response in
            let id = try context.parameters.require("id")
            let ended = try await backend.revoke(node: id.removingPercentEncoding ?? id, actor: actor(request))
            return try json(RevokeResult(nodeID: id.removingPercentEncoding ?? id, streamsEnded: ended))
        }
    }

    // MARK: - Helpers

    /// Reads a JSON body of at most `maxBodyBytes` into `T`, with a message that names the
    /// problem (a malformed document, a missing or unknown field).
    static func decode<T: Decodable>(_ type: T.Type, from request: inout Request) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBodyBytes)
        } catch {
            throw AdminError(.contentTooLarge, .tooLarge, "the request body is larger than \(maxBodyBytes) bytes")
        }
        guard buffer.readableBytes > 0 else { throw AdminError.badRequest("this request needs a JSON body") }
        do {
            return try APIJSON.decoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let DecodingError.dataCorrupted(context) {
            // A well-formed document with a value outside a vocabulary breaks a rule, like a bad name.
            if let unknown = context.underlyingError as? UnknownValue {
                throw AdminError.invalid("\(place(context.codingPath))\(unknown)")
            }
            let detail = context.underlyingError.map { "\($0)" } ?? context.debugDescription
            throw AdminError.badRequest("the body is not valid: \(place(context.codingPath))\(detail)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw AdminError.badRequest(
                ["the body is missing '\(key.stringValue)'", place(context.codingPath, suffix: "")].filter { !$0.isEmpty }
                    .joined(separator: " "))
        } catch let DecodingError.typeMismatch(expected, context) {
            throw AdminError.badRequest("\(place(context.codingPath))expected \(describe(expected))")
        } catch let DecodingError.valueNotFound(expected, context) {
            throw AdminError.badRequest("\(place(context.codingPath))expected \(describe(expected)), got null")
        } catch {
            throw AdminError.badRequest("the body is not valid JSON: \(error)")
        }
    }

    static func place(_ path: [any CodingKey], suffix: String = ": ") -> String {
        guard !path.isEmpty else { return "" }
        let text = path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
        return "at \(text.hasPrefix(".") ? String(text.dropFirst()) : text)\(suffix)"
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)".contains("Array") ? "a list" : "an object"
        }
    }

    /// `If-Match: "7"` (or `7`): the revision the client read. Absent means "whatever the head is".
    static func expected(_ request: Request) throws(AdminError) -> Int? {
        guard let header = request.headers[.ifMatch] else { return nil }
        let text = header.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        guard let value = Int(text), value >= 0 else {
            throw AdminError.invalid("If-Match takes a revision number, such as \"7\" (from `qctl get` or an ETag)")
        }
        return value
    }

    /// The token of an `Authorization: Bearer <token>` header. The scheme is case-insensitive
    /// (RFC 9110 section 11.1).
    static func bearerToken(_ header: String) -> String? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    static func actor(_ request: Request) -> WriteActor {
        let token = request.headers[.authorization].flatMap(bearerToken) ?? ""
        let fingerprint = SHA256.hash(data: Data(token.utf8)).prefix(4).map { String(format: "%02x", $0) }.joined()
        // A client may say who it is; keep it short and printable, as it lands in the history.
        let claimed = request.headers[HTTPField.Name("X-Qpilot-Actor")!].map {
            String($0.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }.prefix(64).map(Character.init))
        }
        return WriteActor(claimed: claimed, tokenFingerprint: fingerprint)
    }

    /// A `:name` path segment, percent-decoded (`bad%20name` is the name `bad name`, which the
    /// name rules then refuse by its real spelling).
    static func pathName(_ context: BasicRequestContext) throws -> String {
        let raw = try context.parameters.require("name")
        return raw.removingPercentEncoding ?? raw
    }

    static func revisionNumber(_ context: BasicRequestContext) throws -> Int {
        let text = try context.parameters.require("n")
        guard let number = Int(text), number > 0 else {
            throw AdminError.invalid("'\(text)' is not a revision number; `qctl history` lists them")
        }
        return number
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try APIJSON.encoder().encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ failure: AdminError) throws -> Response {
        try json(failure.body, status: failure.status)
    }
}

/// Refuses requests without a valid bearer token (401), and writes by read-only tokens (403).
struct BearerAuth<Context: RequestContext>: RouterMiddleware {
    let tokens: Tokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let token = request.headers[.authorization].flatMap(AdminAPI.bearerToken), let role = tokens.role(of: token) else {
            var response = try AdminAPI.error(
                AdminError(.unauthorized, .unauthorized, "send 'Authorization: Bearer <token>' with a token from qpilot's tokens file"))
            response.headers[.wwwAuthenticate] = "Bearer realm=\"qpilot\""
            return response
        }
        if request.method != .get, request.method != .head, role < .admin {
            return try AdminAPI.error(AdminError(.forbidden, .forbidden, "this token may only read; writes need an admin token"))
        }
        return try await next(request, context)
    }
}

/// Reports every response's status (for the admin-requests metric), including refusals.
struct StatusCounter<Context: RequestContext>: RouterMiddleware {
    let onResponse: (@Sendable (Int) -> Void)?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            onResponse?(response.status.code)
            return response
        } catch let error as any HTTPResponseError {
            onResponse?(error.status.code)
            throw error
        } catch {
            onResponse?(500)
            throw error
        }
    }
}
