import AdminServer
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Modules
import QpilotAPI
import Testing
import Yams

/// docs/openapi.yaml against the routers themselves: a route added without docs, or docs for a
/// route that is gone, fails here. Routes are read from the routers and sent to them, never read
/// from the source text.
@Suite("docs/openapi.yaml")
struct OpenAPIDocumentTests {
    /// One documented or registered route, such as `GET /v1/middleware/{name}`.
    struct Route: Hashable, Comparable, CustomStringConvertible {
        var method: String
        var path: String
        var description: String { "\(method) \(path)" }
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.path, lhs.method) < (rhs.path, rhs.method) }
    }

    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The OpenAPI document as plain dictionaries.
    static func document() throws -> [String: Any] {
        let text = try String(contentsOf: repository.appendingPathComponent("docs/openapi.yaml"), encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any], "docs/openapi.yaml is not a mapping")
    }

    /// Documented routes, split by server: a path item with its own `servers` is the module
    /// endpoint's; the rest are the admin API's.
    static func documentedRoutes() throws -> (admin: Set<Route>, modules: Set<Route>) {
        let paths = try #require(try document()["paths"] as? [String: Any], "docs/openapi.yaml has no paths")
        let methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]
        var admin: Set<Route> = []
        var modules: Set<Route> = []
        for (path, value) in paths {
            let item = try #require(value as? [String: Any], "paths.\(path) is not a mapping")
            for method in methods where item[method] != nil {
                let route = Route(method: method.uppercased(), path: path)
                if item["servers"] == nil { admin.insert(route) } else { modules.insert(route) }
            }
        }
        return (admin, modules)
    }

    /// A router's routes, with Hummingbird's `:name` written as OpenAPI's `{name}`.
    static func registered(_ router: Router<BasicRequestContext>) -> Set<Route> {
        Set(
            router.routes.map { route in
                let path = route.path.description.split(separator: "/", omittingEmptySubsequences: false)
                    .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                    .joined(separator: "/")
                return Route(method: route.method.rawValue, path: path.hasPrefix("/") ? path : "/" + path)
            })
    }

    static func compare(documented: Set<Route>, registered: Set<Route>, server: String) {
        #expect(!registered.isEmpty)
        let undocumented = registered.subtracting(documented).sorted()
        let stale = documented.subtracting(registered).sorted()
        #expect(undocumented.isEmpty, "registered by \(server) but not in docs/openapi.yaml: \(undocumented)")
        #expect(stale.isEmpty, "in docs/openapi.yaml but not registered by \(server): \(stale)")
    }

    static func adminRouter() -> Router<BasicRequestContext> {
        AdminAPI.router(tokens: AdminRoutesTests.tokens, backend: FakeBackend())
    }

    @Test("every admin route is documented, and every documented admin route exists")
    func adminRoutes() throws {
        let registered = Self.registered(Self.adminRouter())
        #expect(registered.contains(Route(method: "POST", path: "/v1/middleware/{name}/disable")), "\(registered.sorted())")
        Self.compare(documented: try Self.documentedRoutes().admin, registered: registered, server: "AdminAPI")
    }

    @Test("the module endpoint's routes are documented under their own server")
    func moduleEndpointRoutes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-openapi-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let router = ModuleEndpoint.router(store: try ModuleStore(dataDirectory: directory), ready: { true })
        let registered = Self.registered(router)
        #expect(registered.contains(Route(method: "GET", path: "/healthz")))
        Self.compare(documented: try Self.documentedRoutes().modules, registered: registered, server: "ModuleEndpoint")
    }

    @Test("every documented admin route answers from its handler, not the router's 404")
    func documentedRoutesAnswer() async throws {
        let documented = try Self.documentedRoutes().admin
        try await Application(router: Self.adminRouter()).test(.router) { client in
            // The check below must be able to fail: a path no route serves gets no JSON code.
            try await client.execute(uri: "/v1/no-such-route", method: .get, headers: AdminRoutesTests.headers()) { response in
                #expect(response.status == .notFound)
                #expect(!String(buffer: response.body).contains("\"code\""))
            }
            for route in documented {
                let uri = route.path.replacingOccurrences(of: "{name}", with: "a").replacingOccurrences(of: "{id}", with: "envoy-1")
                    .replacingOccurrences(of: "{n}", with: "1")
                let method = HTTPRequest.Method(rawValue: route.method)!
                try await client.execute(uri: uri, method: method, headers: AdminRoutesTests.headers()) { response throws in
                    // A handler answers with JSON (an error body names a code) or its own content;
                    // the router's 404 for an unknown path has neither.
                    let body = String(buffer: response.body)
                    #expect(response.status != .notFound || body.contains("\"code\""), "\(route): \(response.status) \(body)")
                }
            }
        }
    }

    @Test("ErrorCode lists exactly the codes of the API's catalogue")
    func errorCodes() throws {
        let components = try #require(try Self.document()["components"] as? [String: Any])
        let schemas = try #require(components["schemas"] as? [String: Any])
        let errorCode = try #require(schemas["ErrorCode"] as? [String: Any])
        let documented = Set(try #require(errorCode["enum"] as? [String]))
        let catalogue = Set(APIErrorCode.all.map(\.rawValue))
        #expect(catalogue.subtracting(documented).isEmpty, "in QpilotAPI's catalogue but not documented")
        #expect(documented.subtracting(catalogue).isEmpty, "documented but not in QpilotAPI's catalogue")
    }

    @Test("every $ref in docs/openapi.yaml resolves")
    func references() throws {
        let document = try Self.document()
        var unresolved: Set<String> = []
        func visit(_ value: Any) {
            if let mapping = value as? [String: Any] {
                if let reference = mapping["$ref"] as? String, Self.resolve(reference, in: document) == nil {
                    unresolved.insert(reference)
                }
                mapping.values.forEach(visit)
            } else if let list = value as? [Any] {
                list.forEach(visit)
            }
        }
        visit(document)
        #expect(unresolved.isEmpty, "unresolved: \(unresolved.sorted())")
    }

    static func resolve(_ reference: String, in document: [String: Any]) -> Any? {
        guard reference.hasPrefix("#/") else { return nil }
        var node: Any? = document
        for key in reference.dropFirst(2).split(separator: "/") {
            node = (node as? [String: Any])?[String(key)]
        }
        return node
    }
}
