import KeyInjectorLogic
import Testing

@Suite("Key policy")
struct KeyPolicyTests {
    /// The seed's example: service A may only read specific endpoints; service B may read and
    /// write everywhere.
    static let policy = KeyPolicy(keys: [
        KeyEntry(name: "service-a", internalKey: "int-a", realKey: "real-a", rules: [
            AccessRule(domains: [DomainPattern("api.example.com")], methods: ["GET", "HEAD"], paths: [PathGlob("/v1/items"), PathGlob("/v1/items/*")]),
        ]),
        KeyEntry(name: "service-b", internalKey: "int-b", realKey: "real-b", rules: [AccessRule(domains: [DomainPattern("*")])]),
    ])

    func decide(_ key: String, _ method: String, _ authority: String, _ path: String) -> KeyDecision {
        Self.policy.decide(presented: Array(key.utf8), method: method, authority: authority, path: path)
    }

    @Test("service A reads its endpoints")
    func serviceAReads() {
        #expect(decide("int-a", "GET", "api.example.com", "/v1/items/9") == .allowed(key: 0, rule: 0))
        #expect(decide("int-a", "HEAD", "api.example.com:443", "/v1/items") == .allowed(key: 0, rule: 0))
    }

    @Test("service A may not write, and the reason says which rule failed")
    func serviceAWrites() {
        #expect(decide("int-a", "POST", "api.example.com", "/v1/items")
            == .denied(key: 0, reason: "key 'service-a' may not use method POST on api.example.com (rule 1 allows GET, HEAD)"))
        #expect(decide("int-a", "GET", "api.example.com", "/v1/admin?x=1")
            == .denied(key: 0, reason: "key 'service-a' may not call /v1/admin on api.example.com with GET (rule 1 allows /v1/items, /v1/items/*)"))
        #expect(decide("int-a", "GET", "evil.com", "/v1/items")
            == .denied(key: 0, reason: "key 'service-a' may not call host evil.com (allowed hosts: api.example.com)"))
    }

    @Test("service B reads and writes everywhere")
    func serviceB() {
        #expect(decide("int-b", "POST", "api.example.com", "/v1/items") == .allowed(key: 1, rule: 0))
        #expect(decide("int-b", "DELETE", "other.net", "/x/y") == .allowed(key: 1, rule: 0))
    }

    @Test("unknown keys, including prefixes of real ones")
    func unknown() {
        #expect(decide("int-c", "GET", "api.example.com", "/v1/items") == .unknownKey)
        #expect(decide("int-", "GET", "api.example.com", "/v1/items") == .unknownKey)
        #expect(decide("int-aa", "GET", "api.example.com", "/v1/items") == .unknownKey)
    }

    @Test("no reason ever contains a key")
    func reasonsHideKeys() {
        for method in ["GET", "POST"] {
            for host in ["api.example.com", "evil.com"] {
                if case .denied(_, let reason) = decide("int-a", method, host, "/v1/admin") {
                    #expect(!reason.contains("int-a") && !reason.contains("real-a"))
                }
            }
        }
    }
}

@Suite("Credentials")
struct CredentialsTests {
    @Test("reads a key from a header value")
    func headerKeys() {
        #expect(Credentials.key(inHeaderValue: "Bearer int-a", scheme: "Bearer") == Array("int-a".utf8))
        #expect(Credentials.key(inHeaderValue: "bearer   int-a ", scheme: "Bearer") == Array("int-a".utf8))
        #expect(Credentials.key(inHeaderValue: "Basic dXNlcg==", scheme: "Bearer") == nil)
        #expect(Credentials.key(inHeaderValue: "Bearer ", scheme: "Bearer") == nil)
        #expect(Credentials.key(inHeaderValue: "raw-key", scheme: "") == Array("raw-key".utf8))
    }

    @Test("reads, replaces and removes a query parameter")
    func queryKeys() {
        #expect(Credentials.queryValue(named: "api_key", in: "/v1?x=1&api_key=int%2Da#f") == Array("int-a".utf8))
        #expect(Credentials.queryValue(named: "api_key", in: "/v1?x=1") == nil)
        #expect(Credentials.replacingQueryValue(named: "api_key", in: "/v1?x=1&api_key=int-a#f", with: "real/key") == "/v1?x=1&api_key=real%2Fkey#f")
        #expect(Credentials.replacingQueryValue(named: "api_key", in: "/v1?api_key=int-a", with: nil) == "/v1")
        #expect(Credentials.replacingQueryValue(named: "api_key", in: "/v1?a=1&api_key=k&b=2", with: nil) == "/v1?a=1&b=2")
    }
}

@Suite("key-injector configuration")
struct KeyInjectorConfigTests {
    @Test("reads the seed's example with defaults")
    func reads() throws {
        let config = try KeyInjectorConfig.parse(Array("""
            {"keys": [
              {"name": "service-a", "internalKey": "int-a", "realKey": "real-a",
               "rules": [{"domains": ["api.example.com"], "methods": ["get", "HEAD"], "paths": ["/v1/items", "/v1/items/*"]}]},
              {"name": "service-b", "internalKey": "int-b", "realKey": "real-b", "rules": [{"domains": ["*"]}],
               "injectHeader": "X-Api-Key", "injectScheme": ""}
            ]}
            """.utf8)).get()
        #expect(config.header == "authorization")
        #expect(config.scheme == "Bearer")
        #expect(config.unknownKeys == .block)
        #expect(config.policy.keys[0].rules[0].methods == ["GET", "HEAD"])
        #expect(config.policy.keys[1].rules[0] == AccessRule(domains: [DomainPattern("*")]))
        #expect(config.policy.keys[1].injectHeader == "x-api-key")
    }

    @Test("refuses mistakes without ever echoing a key", arguments: [
        ("{}", "'keys' is required"),
        (#"{"keys": [{"name": "a", "internalKey": "secret-1", "rules": [{"domains": ["*"]}]}]}"#, "'realKey' is required"),
        (#"{"keys": [{"name": "a", "internalKey": "secret-1", "realKey": "secret-2", "rules": []}]}"#, "'rules' is required"),
        (#"{"keys": [{"name": "a", "internalKey": "secret-1", "realKey": "secret-2", "rules": [{"methods": ["GET"]}]}]}"#, "'domains' is required"),
        (#"{"keys": [{"name": "a", "internalKey": "secret-1", "realKey": "secret-2", "rules": [{"domains": ["*"], "paths": ["v1/*"]}]}]}"#, "must start with '/'"),
        (#"{"keys": [{"name": "a", "internalKey": "secret-1", "realKey": "secret-2", "rules": [{"domains": ["*"]}]}, {"name": "b", "internalKey": "secret-1", "realKey": "secret-3", "rules": [{"domains": ["*"]}]}]}"#, "same as keys[0]"),
        (#"{"unknownKeys": "drop", "keys": []}"#, "'unknownKeys' must be"),
        (#"{"keys": [{"name": "a", "internalKey": "secret-1", "realKey": "secret-2", "rules": [{"domains": ["*"]}], "realkey": "x"}]}"#, "unknown field 'realkey'"),
    ])
    func refuses(text: String, message: String) {
        switch KeyInjectorConfig.parse(Array(text.utf8)) {
        case .success:
            Issue.record("accepted \(text)")
        case .failure(let error):
            #expect(error.message.contains(message), "\(error.message)")
            #expect(!error.message.contains("secret-"))
        }
    }
}
