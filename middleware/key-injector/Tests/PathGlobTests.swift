import KeyInjectorLogic
import Testing

@Suite("Path globs")
struct PathGlobTests {
    @Test("matches", arguments: [
        ("/v1/items", "/v1/items"),
        ("/v1/items/*", "/v1/items/42"),
        ("/v1/*/detail", "/v1/items/detail"),
        ("/v1/**", "/v1/items/42/detail"),
        ("/v1/**", "/v1"),
        ("/**", "/"),
        ("/**", "/anything/at/all"),
        ("/files/*.json", "/files/a.json"),
        ("/v?/items", "/v2/items"),
        ("/a/**/z", "/a/b/c/z"),
    ])
    func matches(pattern: String, path: String) {
        #expect(PathGlob(pattern).matches(path))
    }

    @Test("does not match", arguments: [
        ("/v1/items", "/v1/items/42"),
        ("/v1/items/*", "/v1/items/42/detail"),
        ("/v1/items/*", "/v1/items"),
        ("/v1/*/detail", "/v1/a/b/detail"),
        ("/v1/**", "/v2/items"),
        ("/files/*.json", "/files/a.yaml"),
        ("/v?/items", "/v/items"),
        ("/v?/items", "/v//items"),
    ])
    func doesNotMatch(pattern: String, path: String) {
        #expect(!PathGlob(pattern).matches(path))
    }

    @Test("pathological patterns stay fast")
    func noBacktrackingBlowUp() {
        let pattern = PathGlob(String(repeating: "*a", count: 30) + "b")
        #expect(!pattern.matches(String(repeating: "a", count: 2000)))
    }
}

@Suite("Domains and methods")
struct DomainAndMethodTests {
    @Test("domain patterns", arguments: [
        ("api.example.com", "api.example.com", true),
        ("api.example.com", "API.Example.com:443", true),
        ("api.example.com", "api.example.com.evil.net", false),
        ("*.example.com", "a.b.example.com", true),
        ("*.example.com", "example.com", false),
        ("*.example.com", "badexample.com", false),
        ("*", "anything:8080", true),
        ("api.example.com:8443", "api.example.com:8443", true),
        ("api.example.com:8443", "api.example.com:443", false),
        ("[::1]", "[::1]:8080", true),
    ])
    func domains(pattern: String, authority: String, expected: Bool) {
        #expect(DomainPattern(pattern).matches(authority) == expected)
    }

    @Test("a rule checks host, then method, then path")
    func ruleOrder() {
        let rule = AccessRule(domains: [DomainPattern("api.example.com")], methods: ["GET"], paths: [PathGlob("/v1/items/*")])
        #expect(rule.check(method: "GET", authority: "api.example.com", path: "/v1/items/7?x=1") == .allowed)
        #expect(rule.check(method: "GET", authority: "other.com", path: "/v1/items/7") == .domainRefused)
        #expect(rule.check(method: "POST", authority: "api.example.com", path: "/v1/items/7") == .methodRefused)
        #expect(rule.check(method: "GET", authority: "api.example.com", path: "/v1/admin") == .pathRefused)
        #expect(AccessRule(domains: [DomainPattern("*")]).check(method: "DELETE", authority: "x", path: "/a/b") == .allowed)
    }
}
