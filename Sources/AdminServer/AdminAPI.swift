import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import QpilotAPI
import ServiceLifecycle

/// What the admin API reads from the running server.
public struct AdminState: Sendable {
    public var nodes: @Sendable () -> [NodeView]
    public var config: @Sendable () -> ConfigStatusView

    public init(nodes: @escaping @Sendable () -> [NodeView], config: @escaping @Sendable () -> ConfigStatusView) {
        self.nodes = nodes
        self.config = config
    }
}

/// The admin API (`/v1/…`, JSON). Every route needs `Authorization: Bearer <token>`.
///
/// - `GET /v1/nodes[?fleet=F]`: every node, with its sync state and last NACK.
/// - `GET /v1/nodes/<id>`: one node.
/// - `GET /v1/config`: the published generation, its middleware, and the last refusal.
public enum AdminAPI {
    public static func application(
        host: String, port: Int, tokens: Tokens, state: AdminState, logger: Logger
    ) -> some ApplicationProtocol & Service {
        let router = Router()
        router.add(middleware: BearerAuth(tokens: tokens))
        router.get("/v1/nodes") { request, _ -> Response in
            let fleet = request.uri.queryParameters["fleet"].map(String.init)
            let nodes = state.nodes().filter { fleet == nil || $0.fleet == fleet }
            return try json(NodeList(nodes: nodes))
        }
        router.get("/v1/nodes/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard let node = state.nodes().first(where: { $0.nodeID == id }) else {
                return try error(.notFound, "not_found", "no node with id '\(id)' has connected")
            }
            return try json(node)
        }
        router.get("/v1/config") { _, _ -> Response in try json(state.config()) }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "qpilot"), logger: logger)
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try APIJSON.encoder().encode(value)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, _ message: String) throws -> Response {
        try json(APIErrorBody(code: code, message: message), status: status)
    }
}

/// Refuses requests without a valid bearer token (401), and writes by read-only tokens (403).
struct BearerAuth<Context: RequestContext>: RouterMiddleware {
    let tokens: Tokens

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            let role = tokens.role(of: String(header.dropFirst("Bearer ".count)))
        else {
            var response = try AdminAPI.error(
                .unauthorized, "unauthorized", "send 'Authorization: Bearer <token>' with a token from qpilot's tokens file")
            response.headers[.wwwAuthenticate] = "Bearer realm=\"qpilot\""
            return response
        }
        if request.method != .get, request.method != .head, role < .admin {
            return try AdminAPI.error(.forbidden, "forbidden", "this token may only read; writes need an admin token")
        }
        return try await next(request, context)
    }
}
