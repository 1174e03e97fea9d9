import AdminServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import QpilotAPI
import Synchronization
import Testing

/// The admin routes in memory, through Hummingbird's test client, with a fake backend: what a
/// client sends and what it gets back, without a server behind the routes.
@Suite("Admin API routes")
struct AdminRoutesTests {
    static let admin = "admin-token-0123456789"
    static let reader = "read-token-0123456789"
    static let tokens = Tokens([(admin, .admin), (reader, .read)])

    /// Every status the routes answered with, in order.
    final class StatusLog: Sendable {
        let values = Mutex<[Int]>([])
    }

    /// Runs `body` against the routes over `backend`; `statuses` collects every answer's status.
    static func withRoutes(
        _ backend: FakeBackend = FakeBackend(), statuses: StatusLog? = nil,
        _ body: @Sendable @escaping (any TestClientProtocol) async throws -> Void
    ) async throws {
        let router = AdminAPI.router(tokens: tokens, backend: backend, onResponse: { status in statuses?.values.withLock { $0.append(status) } })
        try await Application(router: router).test(.router) { client in try await body(client) }
    }

    static func headers(_ token: String? = admin, _ extra: [HTTPField.Name: String] = [:]) -> HTTPFields {
        var fields = HTTPFields()
        if let token { fields[.authorization] = "Bearer \(token)" }
        for (name, value) in extra { fields[name] = value }
        return fields
    }

    static func json(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }

    static func errorBody(_ response: TestResponse) throws -> APIErrorBody {
        try APIJSON.decoder().decode(APIErrorBody.self, from: Data(response.body.readableBytesView))
    }

    // MARK: Tokens

    @Test("no token, an unknown token or another scheme get 401 with a Bearer challenge; the scheme is case-insensitive")
    func authentication() async throws {
        let statuses = StatusLog()
        try await Self.withRoutes(statuses: statuses) { client in
            for fields in [HTTPFields(), Self.headers("not-a-token-at-all"), [.authorization: "Basic \(Self.admin)"]] {
                try await client.execute(uri: "/v1/nodes", method: .get, headers: fields) { response throws in
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"qpilot\"")
                    #expect(try Self.errorBody(response).code == .unauthorized)
                }
            }
            try await client.execute(uri: "/v1/nodes", method: .get, headers: [.authorization: "bearer \(Self.reader)"]) { response throws in
                #expect(response.status == .ok)
                let nodes = try APIJSON.decoder().decode(NodeList.self, from: Data(response.body.readableBytesView))
                #expect(nodes.nodes.map(\.nodeID) == ["envoy-1"])
            }
        }
        #expect(statuses.values.withLock { $0 } == [401, 401, 401, 200], "every answer is counted, refusals too")
    }

    @Test("a read token reads but may not write")
    func readToken() async throws {
        let backend = FakeBackend()
        try await Self.withRoutes(backend) { client in
            try await client.execute(uri: "/v1/middleware", method: .get, headers: Self.headers(Self.reader)) { response throws in
                #expect(response.status == .ok)
            }
            for (method, uri) in [(HTTPRequest.Method.delete, "/v1/middleware/a"), (.post, "/v1/middleware/a/disable"), (.put, "/v1/secrets/k")] {
                try await client.execute(uri: uri, method: method, headers: Self.headers(Self.reader)) { response throws in
                    #expect(response.status == .forbidden, "\(method) \(uri)")
                    #expect(try Self.errorBody(response).code == .forbidden)
                }
            }
        }
        #expect(backend.recorded.withLock { $0.writes.isEmpty && $0.secretsSet.isEmpty })
    }

    // MARK: Writes

    @Test("PUT answers 201 when it created the middleware and 200 when it replaced it", arguments: [true, false])
    func putStatus(creates: Bool) async throws {
        let backend = FakeBackend(creates: creates)
        try await Self.withRoutes(backend) { client in
            try await client.execute(
                uri: "/v1/middleware/b", method: .put, headers: Self.headers(Self.admin, [HTTPField.Name("X-Qpilot-Actor")!: "ops@host"]),
                body: Self.json(#"{"name": "b", "source": "/b.wasm", "phase": "authz", "resolvedSha256": "ignored"}"#)
            ) { response throws in
                #expect(response.status == (creates ? .created : .ok))
                let result = try APIJSON.decoder().decode(WriteResult.self, from: Data(response.body.readableBytesView))
                #expect(result == WriteResult(revision: 4, rollout: "/v1/rollouts/4", changed: true))
            }
        }
        let write = try #require(backend.recorded.withLock { $0.writes.first })
        #expect(write.write == .put(MiddlewareSpec(name: "b", source: "/b.wasm", phase: .authz)), "resolvedSha256 is qpilot's to set")
        #expect(write.expected == nil)
        #expect(write.actor.claimed == "ops@host")
        #expect(write.actor.tokenFingerprint.count == 8)
    }

    @Test("If-Match reaches the backend as the expected revision; a malformed one is refused before it")
    func ifMatch() async throws {
        let backend = FakeBackend()
        try await Self.withRoutes(backend) { client in
            try await client.execute(uri: "/v1/middleware/a/disable", method: .post, headers: Self.headers(Self.admin, [.ifMatch: "\"7\""])) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/v1/middleware/a", method: .delete, headers: Self.headers(Self.admin, [.ifMatch: "seven"])) {
                response throws in
                #expect(response.status == .badRequest)
                #expect(try Self.errorBody(response).code == .invalid)
            }
        }
        let writes = backend.recorded.withLock { $0.writes }
        #expect(writes.count == 1)
        #expect(writes.first?.write == .setEnabled(name: "a", enabled: false))
        #expect(writes.first?.expected == 7)
    }

    @Test("GET /v1/middleware and one middleware carry the revision as ETag; an unknown name is 404")
    func etag() async throws {
        try await Self.withRoutes { client in
            for uri in ["/v1/middleware", "/v1/middleware/a"] {
                try await client.execute(uri: uri, method: .get, headers: Self.headers()) { response throws in
                    #expect(response.status == .ok)
                    #expect(response.headers[.eTag] == "\"3\"", "\(uri)")
                }
            }
            try await client.execute(uri: "/v1/middleware/nope", method: .get, headers: Self.headers()) { response throws in
                #expect(response.status == .notFound)
                #expect(try Self.errorBody(response).code == .notFound)
            }
        }
    }

    /// A request body the routes refuse, and the answer it must get.
    struct BadBody: Sendable, CustomTestStringConvertible {
        var label: String
        var uri: String
        var body: String
        var status: HTTPResponse.Status
        var code: APIErrorCode
        var mentions: String
        var testDescription: String { label }
    }

    static let badBodies: [BadBody] = [
        BadBody(label: "not JSON", uri: "/v1/middleware/a", body: #"{"name": "a", "#, status: .badRequest, code: .badRequest, mentions: "not valid"),
        BadBody(label: "no body", uri: "/v1/middleware/a", body: "", status: .badRequest, code: .badRequest, mentions: "needs a JSON body"),
        BadBody(
            label: "an unknown field", uri: "/v1/middleware/a", body: #"{"name": "a", "source": "/a", "confg": 1}"#, status: .badRequest,
            code: .badRequest, mentions: "unknown field 'confg'"),
        BadBody(
            label: "a missing field", uri: "/v1/middleware/a", body: #"{"name": "a"}"#, status: .badRequest, code: .badRequest,
            mentions: "missing 'source'"),
        BadBody(
            label: "a value outside its vocabulary", uri: "/v1/middleware/a",
            body: #"{"name": "a", "source": "/a", "failurePolicy": "maybe"}"#, status: .badRequest, code: .invalid,
            mentions: "failurePolicy: 'maybe' is not one of: closed, open"),
        BadBody(
            label: "one in an apply document", uri: "/v1/apply",
            body: #"{"middleware": [{"name": "a", "source": "/a"}, {"name": "b", "source": "/b", "delivery": "carrier-pigeon"}]}"#,
            status: .badRequest, code: .invalid, mentions: "middleware[1].delivery: 'carrier-pigeon' is not one of: inline, file, remote"),
        BadBody(
            label: "a body that names another middleware", uri: "/v1/middleware/a", body: #"{"name": "b", "source": "/b"}"#,
            status: .badRequest, code: .invalid, mentions: "the body names 'b' but the path names 'a'"),
        BadBody(
            label: "a body over 1 MiB", uri: "/v1/middleware/a",
            body: #"{"name": "a", "source": "/a", "config": ""# + String(repeating: "x", count: AdminAPI.maxBodyBytes) + #""}"#,
            status: .contentTooLarge, code: .tooLarge, mentions: "larger than"),
    ]

    @Test("a bad body is refused with a code and a message that names the problem; nothing is written", arguments: badBodies)
    func badBody(_ bad: BadBody) async throws {
        let backend = FakeBackend()
        try await Self.withRoutes(backend) { client in
            let method: HTTPRequest.Method = bad.uri == "/v1/apply" ? .post : .put
            try await client.execute(uri: bad.uri, method: method, headers: Self.headers(), body: Self.json(bad.body)) { response throws in
                #expect(response.status == bad.status)
                let error = try Self.errorBody(response)
                #expect(error.code == bad.code)
                #expect(error.message.contains(bad.mentions), "\(error.message)")
            }
        }
        #expect(backend.recorded.withLock { $0.writes.isEmpty })
    }

    @Test("the backend's refusals reach the client as they are: status, code, message and details")
    func backendErrors() async throws {
        let refusals = [
            AdminError(.notFound, .notFound, "no middleware named 'x'"),
            AdminError(.notFound, .unknownRevision, "there is no revision 9"),
            AdminError(.conflict, .duplicate, "exists"),
            AdminError(.conflict, .fileMode, "edit qpilot.yaml"),
            AdminError(.conflict, .staleRevision, "the head moved", details: ["expected": "2", "head": "3"]),
            AdminError(.conflict, .secretInUse, "used", details: ["middleware": "a"]),
            AdminError(.unprocessableContent, .invalidModule, "not a module"),
            AdminError(.unprocessableContent, .missingSecret, "set it"),
            AdminError(.unprocessableContent, .invalid, "Envoy would refuse it"),
            AdminError(.internalServerError, .store, "disk full"),
        ]
        for refusal in refusals {
            try await Self.withRoutes(FakeBackend(failure: refusal)) { client in
                try await client.execute(uri: "/v1/revisions/9/rollback", method: .post, headers: Self.headers()) { response throws in
                    #expect(response.status == refusal.status)
                    #expect(try Self.errorBody(response) == refusal.body)
                }
            }
        }
    }

    // MARK: Reads and the rest

    @Test("query and path values are checked: limit, revision numbers, the bootstrap's node")
    func parameters() async throws {
        let backend = FakeBackend()
        try await Self.withRoutes(backend) { client in
            for uri in ["/v1/revisions?limit=0", "/v1/revisions?limit=x", "/v1/revisions/abc", "/v1/rollouts/0", "/v1/bootstrap"] {
                try await client.execute(uri: uri, method: .get, headers: Self.headers()) { response throws in
                    #expect(response.status == .badRequest, "\(uri)")
                    #expect(try Self.errorBody(response).code == .invalid, "\(uri)")
                }
            }
            try await client.execute(uri: "/v1/revisions?limit=5000", method: .get, headers: Self.headers()) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/revisions", method: .get, headers: Self.headers()) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/bootstrap?node=envoy-1&fleet=edge", method: .get, headers: Self.headers()) { response throws in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/yaml")
                #expect(String(buffer: response.body) == "node: {id: envoy-1, cluster: edge}\n")
            }
        }
        #expect(backend.recorded.withLock { $0.revisionLimits } == [1000, 50], "capped at 1000; 50 by default")
    }

    @Test("a secret's value goes in and never comes out; delete answers 204")
    func secrets() async throws {
        let backend = FakeBackend()
        try await Self.withRoutes(backend) { client in
            try await client.execute(
                uri: "/v1/secrets/api-key", method: .put, headers: Self.headers(), body: Self.json(#"{"value": "sk-live-123"}"#)
            ) { response throws in
                #expect(response.status == .ok)
                #expect(!String(buffer: response.body).contains("sk-live-123"))
            }
            try await client.execute(uri: "/v1/secrets", method: .get, headers: Self.headers()) { response throws in
                #expect(String(buffer: response.body).contains("\"name\" : \"k\""))
            }
            try await client.execute(uri: "/v1/secrets/api-key", method: .delete, headers: Self.headers()) { #expect($0.status == .noContent) }
        }
        #expect(backend.recorded.withLock { $0.secretsSet.map(\.value) } == ["sk-live-123"])
        #expect(backend.recorded.withLock { $0.secretsDeleted } == ["api-key"])
    }

    @Test("module validation answers the validator's report")
    func validate() async throws {
        try await Self.withRoutes { client in
            try await client.execute(
                uri: "/v1/modules/validate", method: .post, headers: Self.headers(), body: Self.json(#"{"source": "/m.wasm"}"#)
            ) { response throws in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains("\"abiVersion\""), "\(text)")
                #expect(text.contains("\"allocator\" : \"malloc\""), "\(text)")
            }
        }
    }
}
