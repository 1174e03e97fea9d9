import Foundation
import QpilotAPI
import Testing
import Yams

/// docs/openapi.yaml against the routes the servers register: a route added without docs, or
/// docs for a route that is gone, fails here. The routes are read from the source text, so the
/// check needs no server.
@Suite("docs/openapi.yaml")
struct OpenAPIRoutesTests {
    /// One documented or registered route, such as `GET /v1/middleware/{name}`.
    struct Route: Hashable, Comparable, CustomStringConvertible {
        var method: String
        var path: String
        var description: String { "\(method) \(path)" }
        static func < (lhs: Self, rhs: Self) -> Bool { (lhs.path, lhs.method) < (rhs.path, rhs.method) }
    }

    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ relativePath: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// The OpenAPI document as plain dictionaries.
    static func document() throws -> [String: Any] {
        let loaded = try Yams.load(yaml: try text("docs/openapi.yaml"))
        return try #require(loaded as? [String: Any], "docs/openapi.yaml is not a mapping")
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

    /// Routes registered in a source file: `router.get("/path")`-style calls and
    /// `router.on("/path", method: .head)`. An interpolation in a path is expanded from a
    /// `for (name, …) in [("a", …), ("b", …)]` loop in the same file; one that cannot be expanded
    /// is reported, so a new pattern fails here instead of going unchecked.
    static func registeredRoutes(in relativePath: String) throws -> Set<Route> {
        registeredRoutes(source: try text(relativePath), file: relativePath)
    }

    static func registeredRoutes(source: String, file: String) -> Set<Route> {
        var loops: [String: [String]] = [:]
        for match in source.matches(of: #/for\s*\(\s*(\w+)\s*,[^)]*\)\s+in\s+\[([^\]]*)\]/#) {
            loops[String(match.1)] = match.2.matches(of: #/\(\s*"([^"]*)"/#).map { String($0.1) }
        }
        var calls: [(method: String, path: String)] = source.matches(of: #/router\.(get|put|post|delete|patch|head)\(\s*"([^"]*)"/#)
            .map { (String($0.1).uppercased(), String($0.2)) }
        calls += source.matches(of: #/router\.on\(\s*"([^"]*)"\s*,\s*method:\s*\.(\w+)/#)
            .map { (String($0.2).uppercased(), String($0.1)) }

        var routes: Set<Route> = []
        for call in calls {
            for path in expand(call.path, loops: loops, file: file) {
                routes.insert(Route(method: call.method, path: openAPIPath(path)))
            }
        }
        return routes
    }

    /// `"/v1/middleware/:name/\(verb)"` with `verb` in a loop: one path per value.
    static func expand(_ path: String, loops: [String: [String]], file: String) -> [String] {
        guard let interpolation = path.firstMatch(of: #/\\\(\s*(\w+)\s*\)/#) else { return [path] }
        let name = String(interpolation.1)
        guard let values = loops[name], !values.isEmpty else {
            Issue.record("\(file): cannot expand '\(name)' in the route \(path); teach OpenAPIRoutesTests this pattern")
            return []
        }
        return values.flatMap { value in
            expand(path.replacingCharacters(in: interpolation.range, with: value), loops: loops, file: file)
        }
    }

    /// Hummingbird's `:name` is OpenAPI's `{name}`.
    static func openAPIPath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            .joined(separator: "/")
    }

    static func compare(documented: Set<Route>, registered: Set<Route>, source: String) {
        let undocumented = registered.subtracting(documented).sorted()
        let stale = documented.subtracting(registered).sorted()
        #expect(undocumented.isEmpty, "registered in \(source) but not in docs/openapi.yaml: \(undocumented)")
        #expect(stale.isEmpty, "in docs/openapi.yaml but not registered in \(source): \(stale)")
    }

    @Test("every admin route is documented, and every documented admin route exists")
    func adminRoutes() throws {
        let registered = try Self.registeredRoutes(in: "Sources/AdminServer/AdminAPI.swift")
        // A floor, so that a regex that stops matching cannot pass by finding nothing.
        #expect(registered.count >= 20, "found only \(registered.sorted()) in AdminAPI.swift")
        #expect(registered.contains(Route(method: "POST", path: "/v1/middleware/{name}/disable")))
        Self.compare(
            documented: try Self.documentedRoutes().admin, registered: registered, source: "Sources/AdminServer/AdminAPI.swift")
    }

    @Test("the module endpoint's routes are documented under their own server")
    func moduleEndpointRoutes() throws {
        let registered = try Self.registeredRoutes(in: "Sources/AdminServer/ModuleEndpoint.swift")
        #expect(registered.contains(Route(method: "GET", path: "/healthz")))
        Self.compare(
            documented: try Self.documentedRoutes().modules, registered: registered,
            source: "Sources/AdminServer/ModuleEndpoint.swift")
    }

    @Test("the extraction finds each registration style, expands loops and converts parameters")
    func extraction() {
        let source = #"""
            router.get("/v1/things") { _, _ in "" }
            router.delete(
                "/v1/things/:id") { _, _ in "" }
            for (verb, enabled) in [("enable", true), ("disable", false)] {
                router.post("/v1/things/:id/\(verb)") { _, _ in "" }
            }
            router.on("/files/:digest", method: .head, use: handler)
            """#
        #expect(
            Self.registeredRoutes(source: source, file: "test")
                == [
                    Route(method: "GET", path: "/v1/things"), Route(method: "DELETE", path: "/v1/things/{id}"),
                    Route(method: "POST", path: "/v1/things/{id}/enable"), Route(method: "POST", path: "/v1/things/{id}/disable"),
                    Route(method: "HEAD", path: "/files/{digest}"),
                ])
        #expect(Self.openAPIPath("/v1/revisions/:n/rollback") == "/v1/revisions/{n}/rollback")
    }

    @Test("docs/openapi.yaml's ErrorCode lists exactly the codes of the API's catalogue")
    func errorCodes() throws {
        let document = try Self.document()
        let components = try #require(document["components"] as? [String: Any])
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
