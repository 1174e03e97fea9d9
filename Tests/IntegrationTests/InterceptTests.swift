import Foundation
import QpilotAPI
import Testing

extension Integration {
    /// HTTPS egress (issue 11): interception with certificates qpilot mints over SDS, against
    /// Envoy 1.40 and a real HTTPS origin, inside a network namespace of the test's own.
    @Suite("HTTPS interception")
    struct InterceptTests {
        /// Runs `body` in a fresh lab, and always tears the namespace down.
        static func withLab(tls: String, middleware: String?, _ body: (InterceptLab) async throws -> Void) async throws {
            let lab = try await InterceptLab(tls: tls, middleware: middleware)
            defer { lab.stop() }
            do {
                try await body(lab)
            } catch {
                Issue.record("qpilot's log:\n\(lab.qpilotLog.suffix(4000))\nEnvoy's log:\n\(lab.envoy?.log.suffix(4000) ?? "")")
                throw error
            }
        }

        @Test(
            "an intercepted name: pii-guard scrubs and key-injector swaps the key in HTTPS requests over HTTP/1.1 and HTTP/2, and the origin gets what they sent; other names stay tunnels; a bad origin certificate is an error with nothing sent; an SNI not on the list is closed at once"
        )
        func interceptedHTTPS() async throws {
            let keys = """
                { keys: [ { name: payments, internalKey: int-k-0001, realKey: real-k-secret-0001,
                  rules: [ { domains: [api.test.example], methods: [POST], paths: ["/v1/**"] } ] } ] }
                """.replacingOccurrences(of: "\n", with: " ")
            let middleware = [
                entry("pii", module: "pii-guard", config: "{ mode: scrub }", extra: ["priority: 20"]),
                entry("keys", module: "key-injector", config: keys, extra: ["priority: 10"]),
            ].joined(separator: "\n")
            let tls = """
                  upstreamCA: ./origin-ca.pem
                  intercept: [api.test.example, untrusted.test.example, { host: wrongsan.test.example }]
                  originate: [plain.test.example]
                """
            try await Self.withLab(tls: tls, middleware: middleware) { lab in
                try await lab.startEnvoy()
                let body = #"{"card":"4111 1111 1111 1111","amount":125}"#
                for version in ["--http1.1", "--http2"] {
                    let result = try lab.https(
                        "https://api.test.example/v1/charges", extra: [
                            version, "-H", "Authorization: Bearer int-k-0001", "-H", "content-type: application/json",
                            "--data-binary", body,
                        ])
                    #expect(result.status == 200, "\(version): \(result.status) \(result.body.prefix(300))")
                    let seen = try #require(try lab.originRequests().last)
                    #expect(seen.host == "api.test.example")
                    #expect(!seen.body.contains("4111 1111 1111 1111"), "\(version): the card reached the origin: \(seen.body)")
                    #expect(seen.body.contains(#""amount":125"#))
                    #expect(seen.header("authorization") == ["Bearer real-k-secret-0001"], "\(version): \(seen.headers)")
                    #expect(seen.header("x-forwarded-proto") == ["https"])
                    // The client's response is the origin's echo of what the middleware sent.
                    #expect(!result.body.contains("4111 1111 1111 1111"))
                }
                #expect(try lab.envoyStat("http.qpilot_tls.downstream_cx_http1_total").map { $0 >= 1 } == true)
                #expect(try lab.envoyStat("http.qpilot_tls.downstream_cx_http2_total").map { $0 >= 1 } == true)
                // The key's rules allow POST only: key-injector judged the decrypted method and
                // refuses the GET (403 naming the key), and the origin never sees it.
                let count = try lab.originRequests().count
                let read = try lab.https("https://api.test.example/v1/charges", extra: ["-H", "Authorization: Bearer int-k-0001"])
                #expect(read.status == 403, "\(read.status) \(read.body)")
                #expect(read.body.contains("payments"))
                #expect(try lab.originRequests().count == count)

                // Not intercepted: a tunnel, so the client sees the origin's own certificate (and
                // does not trust qpilot's for it), and no middleware touches the request.
                let plain = try lab.https(
                    "https://plain.test.example/v1/charges", ca: lab.originCA,
                    extra: ["-H", "Authorization: Bearer int-k-0001", "--data-binary", body])
                #expect(plain.status == 200)
                let tunnelled = try #require(try lab.originRequests().last)
                #expect(tunnelled.host == "plain.test.example")
                #expect(tunnelled.body == body)
                #expect(tunnelled.header("authorization") == ["Bearer int-k-0001"])
                let mistrust = try lab.failingCurl(["--cacert", lab.qpilotCA.path, "-x", "http://127.0.0.1:10000", "https://plain.test.example/"])
                #expect(mistrust.code == 60, "the tunnelled origin's certificate was trusted as qpilot's: \(mistrust)")

                // Originated: a plain-HTTP request for plain.test.example leaves Envoy as HTTPS to
                // its port 443, verified, after the middleware (the client needs no CA).
                let originated = try lab.curl([
                    "-x", "http://127.0.0.1:10000", "-H", "content-type: application/json", "--data-binary", body,
                    "http://plain.test.example/v1/refunds",
                ])
                #expect(originated.status == 200, "\(originated.status) \(originated.body)")
                let sent = try #require(try lab.originRequests().last)
                #expect(sent.host == "plain.test.example" && sent.path == "/v1/refunds")
                #expect(!sent.body.contains("4111 1111 1111 1111"), "pii-guard did not run on an originated request: \(sent.body)")

                // Origins whose certificate is not trusted, or does not name them: an error
                // response from Envoy, and not one byte of a request reaches them.
                let before = try lab.originRequests().count
                for host in ["untrusted.test.example", "wrongsan.test.example"] {
                    let refused = try lab.https("https://\(host)/v1/charges", extra: ["--data-binary", body])
                    #expect(refused.status == 503, "\(host): \(refused.status) \(refused.body)")
                    #expect(refused.body.contains("upstream connect error"), "\(host): \(refused.body)")
                }
                #expect(try lab.originRequests().count == before, "a request reached an origin that failed verification")
                #expect(try lab.envoyStat("cluster.qpilot_dfp_tls.ssl.fail_verify_error").map { $0 >= 1 } == true)
                #expect(try lab.envoyStat("cluster.qpilot_dfp_tls.ssl.fail_verify_san").map { $0 >= 1 } == true)

                // A client that tunnels to an intercepted name but sends another SNI: no filter
                // chain takes it, so the handshake fails at once instead of waiting for a
                // certificate qpilot will not mint (curl's timeout would be exit 28).
                let stray = try lab.failingCurl([
                    "--cacert", lab.qpilotCA.path, "-x", "http://127.0.0.1:10000",
                    "--connect-to", "other.test.example:443:api.test.example:443", "https://other.test.example/",
                ])
                #expect(stray.code == 35, "\(stray)")
                // The Envoy stats docs/https-egress.md names for these cases.
                #expect(try lab.envoyStat("listener.qpilot_tls.no_filter_chain_match").map { $0 >= 1 } == true)
                #expect(try lab.envoyStat("listener.qpilot_tls.ssl.handshake").map { $0 >= 2 } == true)
                #expect(lab.qpilotLog.contains("minted a certificate"))
                #expect(!lab.qpilotLog.contains("name=other.test.example"), "a certificate was asked for or minted for a name not intercepted")
                // Leaf keys never reach the log.
                #expect(!lab.qpilotLog.contains("PRIVATE KEY"))

                // Status: the hosts, and the certificate with its dates; never a key.
                let json = try lab.qctl(["tls", "status", "--output", "json"])
                #expect(!json.contains("PRIVATE KEY"))
                let view = try APIJSON.decoder().decode(InterceptionView.self, from: Data(json.utf8))
                #expect(view.fleets == [.init(fleet: "*", hosts: ["api.test.example", "untrusted.test.example", "wrongsan.test.example"])])
                let minted = try #require(view.certificates.first { $0.name == "api.test.example" })
                #expect(minted.fleets == ["default"])
                #expect(minted.expires > Date() && minted.issued <= Date())
                #expect(view.originRoots == "upstreamCA")
                #expect(view.originated == [.init(fleet: "*", hosts: ["plain.test.example"])])
                #expect(!view.certificates.contains { $0.name == "other.test.example" })
                // qpilot.yaml holds the list here, so the API refuses to change it.
                #expect(throws: HarnessError.self) { try lab.qctl(["tls", "intercept", "add", "other.test.example"]) }
                #expect(lab.lastQctlOutput.contains("qpilot.yaml has tls.intercept"), "\(lab.lastQctlOutput)")
                #expect(try lab.qctl(["tls", "intercept", "list"]).contains("from qpilot.yaml"))
                let tokens = try String(contentsOf: lab.file("data/admin-tokens"), encoding: .utf8)
                let token = tokens.split(separator: "\n").first { !$0.hasPrefix("#") }?.split(separator: " ").first.map(String.init) ?? ""
                let metrics = try lab.curl(["-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(InterceptLab.adminPort)/metrics"]).body
                // Three names intercepted; a certificate minted for each (the two bad origins too:
                // the client's handshake with Envoy comes before Envoy's with the origin).
                #expect(metrics.contains(#"qpilot_intercepted_hosts{fleet="*"} 3.0"#), "\(metrics)")
                #expect(metrics.contains(#"qpilot_fleet_certificates{fleet="default"} 3.0"#), "\(metrics)")
                #expect(metrics.contains("qpilot_certificates_minted_total 3\n"), "\(metrics)")
                #expect(!metrics.contains("PRIVATE KEY"))
                let overview = try lab.qctl(["status"])
                #expect(overview.contains("envoy-tls") && overview.contains("HTTPS interception: 3 host(s) intercepted, 3 certificate(s) minted"), "\(overview)")
                let table = try lab.qctl(["tls", "status"])
                #expect(table.contains("api.test.example") && table.contains("EXPIRES"), "\(table)")
            }
        }

        @Test(
            "Delta: adding a name to tls.intercept applies without restarting Envoy; a short-lived leaf is re-issued, an open connection keeps working and a new handshake gets the new leaf"
        )
        func interceptChangesAndRotation() async throws {
            let tls = """
                  upstreamCA: ./origin-ca.pem
                  leafLifetimeSeconds: 12
                  intercept: [api.test.example]
                """
            let middleware = entry("marker", config: "intercepted")
            try await Self.withLab(tls: tls, middleware: middleware) { lab in
                try await lab.startEnvoy(delta: true)
                let direct = try lab.https("https://plain.test.example/x", ca: lab.originCA)
                #expect(direct.status == 200)
                #expect(try lab.originRequests().last?.header("x-qpilot-config").isEmpty == true)

                try lab.rewrite(
                    tls: tls.replacingOccurrences(of: "intercept: [api.test.example]", with: "intercept: [api.test.example, plain.test.example]"),
                    middleware: middleware)
                try await eventually("plain.test.example to be intercepted", timeout: .seconds(20)) {
                    (try? lab.https("https://plain.test.example/x"))?.status == 200
                }
                #expect(try lab.originRequests().last?.header("x-qpilot-config") == ["intercepted"])

                // Bad input keeps the running config: an invalid pattern, then an unreadable upstreamCA.
                for (bad, field) in [
                    ("intercept: [api.test.example, plain.test.example, \"bad host\"]", "tls.intercept[2]"),
                    ("intercept: [api.test.example]\n  upstreamCA: ./missing.pem", "tls.upstreamCA"),
                ] {
                    try lab.rewrite(tls: "  leafLifetimeSeconds: 12\n  " + bad, middleware: middleware)
                    try await eventually("the refusal of \(field) in the log") {
                        lab.qpilotLog.contains("config refused; the running config stays") && lab.qpilotLog.contains(field)
                    }
                    let still = try lab.https("https://plain.test.example/still")
                    #expect(still.status == 200, "\(field): the running config was not kept")
                }

                // Lifetime 12 s: re-issued once two thirds (8 s) are gone.
                let output = try lab.python("tls-client.py", ["10000", "api.test.example", lab.qpilotCA.path, "10"])
                struct Rotation: Decodable {
                    var first: Int
                    var firstCert: String
                    var sameConnection: Int
                    var sameConnectionCert: String
                    var newConnection: Int
                    var newConnectionCert: String
                }
                let rotation = try JSONDecoder().decode(Rotation.self, from: Data(output.utf8))
                #expect(rotation.first == 200 && rotation.sameConnection == 200 && rotation.newConnection == 200, "\(output)")
                #expect(rotation.sameConnectionCert == rotation.firstCert, "an open connection keeps its certificate")
                #expect(rotation.newConnectionCert != rotation.firstCert, "a new handshake still got the old leaf: \(output)")
                #expect(lab.qpilotLog.contains("re-issued a certificate before it expires"))
            }
        }

        @Test(
            "store mode: qctl tls intercept add and remove change interception at once; a restart keeps the list and the CA, so clients keep trusting it"
        )
        func storeModeIntercept() async throws {
            try await Self.withLab(tls: "  upstreamCA: ./origin-ca.pem", middleware: nil) { lab in
                try await lab.startEnvoy()
                #expect(try lab.qctl(["tls", "intercept", "list"]).contains("no hosts are intercepted (from the store)"))
                #expect(try lab.failingCurl(["--cacert", lab.qpilotCA.path, "-x", "http://127.0.0.1:10000", "https://api.test.example/"]).code == 60)

                _ = try lab.qctl(["tls", "intercept", "add", "api.test.example"])
                try await eventually("api.test.example to be intercepted") {
                    (try? lab.https("https://api.test.example/x"))?.status == 200
                }
                let listed = try lab.qctl(["tls", "intercept", "list"])
                #expect(listed.contains("api.test.example") && listed.contains("from the store"), "\(listed)")
                #expect(throws: HarnessError.self) { try lab.qctl(["tls", "intercept", "add", "api.*.example"]) }
                #expect(lab.lastQctlOutput.contains("'*' may only stand alone"), "\(lab.lastQctlOutput)")

                // A restart: the same list, and the same CA, so the client's trust still holds.
                lab.stopQpilot()
                try await lab.startQpilot()
                #expect(try lab.qctl(["tls", "intercept", "list"]).contains("api.test.example"))
                try await eventually("interception after the restart", timeout: .seconds(30)) {
                    (try? lab.https("https://api.test.example/after-restart"))?.status == 200
                }

                _ = try lab.qctl(["tls", "intercept", "remove", "api.test.example"])
                try await eventually("api.test.example to be a tunnel again") {
                    (try? lab.https("https://api.test.example/x", ca: lab.originCA))?.status == 200
                }
                #expect(throws: HarnessError.self) { try lab.qctl(["tls", "intercept", "remove", "api.test.example"]) }
                #expect(lab.lastQctlOutput.contains("is not intercepted"), "\(lab.lastQctlOutput)")
            }
        }
    }
}
