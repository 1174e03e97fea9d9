import Foundation
import QpilotAPI
import QpilotServer
import Testing
import XDS

extension Integration {
    /// Issue 12: only enrolled Envoys get config. qpilot runs with `xds.tls: true` (mTLS on the
    /// xDS port, HTTPS on the module port); nodes enrol with `qpilot bootstrap --enroll` and a
    /// join token from `qctl node token create`; stock Envoy 1.40 and the official Python xDS
    /// client (grpcio + xds-protos from PyPI) connect with what it wrote.
    @Suite("Enrolment and mTLS on xDS", .serialized)
    struct EnrolmentTests {
        static let tls = "tls: true, certificateLifetimeSeconds: 120"

        /// A node's enrolment: its directory and the admin port its envoy.yaml names.
        struct Enrolled {
            var directory: URL
            var adminPort: Int
            var bootstrap: URL { directory.appendingPathComponent(Bootstrap.Files.bootstrap) }
            func file(_ name: String) -> String { directory.appendingPathComponent(name).path }
        }

        static func token(_ qpilot: QpilotHarness, fleet: String, node: String?, ttl: String = "10m") throws -> TokenView {
            let created = try qpilot.qctl(
                ["node", "token", "create", "--fleet", fleet, "--ttl", ttl, "--output", "json"] + (node.map { ["--node", $0] } ?? []))
            #expect(created.status == 0, "\(created)")
            return try created.json(TokenView.self)
        }

        static func enrol(_ qpilot: QpilotHarness, token: TokenView, node: String, pin: String? = nil) throws -> (QctlResult, Enrolled) {
            let directory = qpilot.directory.appendingPathComponent("node-\(node)")
            let adminPort = try freePort()
            let result = try runTool(
                Paths.repository.appendingPathComponent(".build/debug/qpilot").path,
                [
                    "bootstrap", "--enroll", token.enrolURL ?? "", "--token", token.token ?? "", "--ca-sha256", pin ?? token.caSHA256,
                    "--node-id", node, "--out", directory.path, "--admin-port", "\(adminPort)",
                ])
            return (result, Enrolled(directory: directory, adminPort: adminPort))
        }

        static func enrolled(_ qpilot: QpilotHarness, node: String, fleet: String = "default") throws -> Enrolled {
            let (result, enrolled) = try enrol(qpilot, token: try token(qpilot, fleet: fleet, node: node), node: node)
            guard result.status == 0 else { throw HarnessError.failed("enrolment failed: \(result)") }
            return enrolled
        }

        /// The official Python xDS client: one ADS stream, as `node` of `fleet`.
        static func pythonClient(
            _ qpilot: QpilotHarness, cert: Enrolled?, node: String, fleet: String, plaintext: Bool = false
        ) throws -> (status: Int32, answer: String) {
            var arguments = [
                Paths.repository.appendingPathComponent("Tests/Fixtures/xds-client.py").path, "127.0.0.1:\(qpilot.xdsPort)",
                "--node", node, "--fleet", fleet, "--timeout", "10",
            ]
            if plaintext {
                arguments.append("--plaintext")
            } else {
                arguments += ["--ca", qpilot.directory.appendingPathComponent("data/ca/ca.crt").path]
            }
            if let cert {
                arguments += ["--cert", cert.file(Bootstrap.Files.certificate), "--key", cert.file(Bootstrap.Files.key)]
            }
            let result = try runTool(Paths.repository.appendingPathComponent(".venv/bin/python").path, arguments, timeout: 30)
            return (result.status, result.stdout + result.stderr)
        }

        static func refusedStreams(_ qpilot: QpilotHarness, _ reason: String) throws -> Int {
            let metrics = try qpilot.api("GET", "/metrics").body
            let prefix = "qpilot_xds_refused_streams_total{reason=\"\(reason)\"} "
            return metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0
        }

        @Test("an enrolled Envoy gets its config over mTLS (and a remote module over HTTPS) and its traffic passes the middleware; the same bootstrap without the client certificate, or without TLS, gets nothing")
        func enrolledEnvoyGetsConfig() async throws {
            let chain = [entry("greeter", config: "hello-tls"), entry("fetched", config: "remote-tls", extra: ["delivery: remote"])]
            try await withHarness(middleware: chain.joined(separator: "\n"), xdsExtra: Self.tls) { qpilot in
                let node = try Self.enrolled(qpilot, node: "envoy-tls")
                let key = try FileManager.default.attributesOfItem(atPath: node.file(Bootstrap.Files.key))
                #expect((key[.posixPermissions] as? Int) == 0o600, "the node's key must be readable by its owner only")
                try await qpilot.startEnvoy(bootstrap: node.bootstrap, nodeID: "envoy-tls", adminPort: node.adminPort)
                try await eventually("the enrolled node in sync") { qpilot.isInSync("envoy-tls") }
                #expect(qpilot.modulesURL.hasPrefix("https://"))
                try await eventually("both middleware, the remote one fetched over HTTPS, to run") {
                    (try? qpilot.echoedHeaders(try qpilot.proxied(), "x-qpilot-config").sorted()) == ["hello-tls", "remote-tls"]
                }
                let status = try qpilot.qctl(["status"])
                #expect(status.stdout.contains("CERT EXPIRES") && status.stdout.contains("envoy-tls"), "\(status)")

                // The same bootstrap without the client certificate: the handshake is refused.
                var text = try String(contentsOf: node.bootstrap, encoding: .utf8)
                let start = try #require(text.range(of: "          tls_certificate_sds_secret_configs:"))
                let end = try #require(text.range(of: "          validation_context:"))
                text.removeSubrange(start.lowerBound..<end.lowerBound)
                let noCertPort = try freePort()
                text = text.replacingOccurrences(of: "port_value: \(node.adminPort)", with: "port_value: \(noCertPort)")
                    .replacingOccurrences(of: "id: \"envoy-tls\"", with: "id: \"envoy-nocert\"")
                let noCertFile = qpilot.directory.appendingPathComponent("envoy-nocert.yaml")
                try text.write(to: noCertFile, atomically: true, encoding: .utf8)
                let noCert = try await qpilot.startEnvoy(bootstrap: noCertFile, nodeID: "envoy-nocert", adminPort: noCertPort, ready: false)
                try await eventually("the Envoy without a certificate to fail its handshakes") {
                    (try noCert.stat("cluster.qpilot_xds.ssl.connection_error") ?? 0) > 0
                }
                // And a plaintext bootstrap (qpilot bootstrap without --enroll) gets nothing either.
                let plainPort = try freePort()
                let plainFile = qpilot.directory.appendingPathComponent("envoy-plain.yaml")
                try Bootstrap(nodeID: "envoy-plain", fleet: "default", xds: HostPort(host: "127.0.0.1", port: qpilot.xdsPort), adminPort: plainPort)
                    .yaml.write(to: plainFile, atomically: true, encoding: .utf8)
                let plaintextBefore = try Self.refusedStreams(qpilot, "plaintext")
                let plain = try await qpilot.startEnvoy(bootstrap: plainFile, nodeID: "envoy-plain", adminPort: plainPort, ready: false)
                try await eventually("qpilot to tell the plaintext Envoy that the port needs TLS") {
                    try Self.refusedStreams(qpilot, "plaintext") > plaintextBefore
                }
                try await Task.sleep(for: .seconds(1))
                #expect(qpilot.status("envoy-nocert") == nil && qpilot.status("envoy-plain") == nil, "a node without a certificate got a stream")
                #expect(try noCert.stat("control_plane.connected_state") == 0)
                #expect(try plain.stat("control_plane.connected_state") == 0)
                #expect(!(try noCert.configDump()).contains("qpilot.middleware.greeter"))
                #expect(!(try plain.configDump()).contains("qpilot.middleware.greeter"))
            }
        }

        @Test("a certificate for one node and fleet cannot ask for another: refused with PERMISSION_DENIED, for the Python xDS client and for Envoy")
        func identityIsBound() async throws {
            try await withHarness(middleware: entry("greeter", config: "hi"), xdsExtra: Self.tls) { qpilot in
                let alpha = try Self.enrolled(qpilot, node: "node-a", fleet: "alpha")
                let own = try Self.pythonClient(qpilot, cert: alpha, node: "node-a", fleet: "alpha")
                #expect(own.status == 0 && own.answer.contains("\"ok\": true"), "\(own.answer)")
                let otherFleet = try Self.pythonClient(qpilot, cert: alpha, node: "node-a", fleet: "beta")
                #expect(otherFleet.status == 1 && otherFleet.answer.contains("PERMISSION_DENIED"), "\(otherFleet.answer)")
                #expect(otherFleet.answer.contains("for node node-a of fleet alpha"), "the refusal must say what the certificate names")
                let otherNode = try Self.pythonClient(qpilot, cert: alpha, node: "node-b", fleet: "alpha")
                #expect(otherNode.status == 1 && otherNode.answer.contains("PERMISSION_DENIED"), "\(otherNode.answer)")
                let noCert = try Self.pythonClient(qpilot, cert: nil, node: "node-a", fleet: "alpha")
                #expect(noCert.status == 1 && noCert.answer.contains("UNAVAILABLE"), "\(noCert.answer)")
                let plaintext = try Self.pythonClient(qpilot, cert: nil, node: "node-a", fleet: "alpha", plaintext: true)
                // Plaintext to the TLS port fails at once, and says why, in the client's own terms.
                #expect(plaintext.status == 1 && plaintext.answer.contains("UNAVAILABLE"), "\(plaintext.answer)")
                #expect(plaintext.answer.contains("qpilot's xDS port requires TLS with a client certificate"), "\(plaintext.answer)")
                #expect(try Self.refusedStreams(qpilot, "plaintext") > 0)
                #expect(try Self.refusedStreams(qpilot, "identity-mismatch") >= 2)

                // Envoy with node-a's certificate but another node id in its bootstrap, over Delta xDS.
                let before = try Self.refusedStreams(qpilot, "identity-mismatch")
                let port = try freePort()
                let text = try String(contentsOf: alpha.bootstrap, encoding: .utf8)
                    .replacingOccurrences(of: "id: \"node-a\"", with: "id: \"node-z\"")
                    .replacingOccurrences(of: "api_type: GRPC", with: "api_type: DELTA_GRPC")
                    .replacingOccurrences(of: "port_value: \(alpha.adminPort)", with: "port_value: \(port)")
                #expect(text.contains("DELTA_GRPC"))
                let file = qpilot.directory.appendingPathComponent("envoy-node-z.yaml")
                try text.write(to: file, atomically: true, encoding: .utf8)
                let envoy = try await qpilot.startEnvoy(bootstrap: file, nodeID: "node-z", adminPort: port, ready: false)
                try await eventually("qpilot to refuse the Envoy that claims node-z") { try Self.refusedStreams(qpilot, "identity-mismatch") > before }
                #expect(qpilot.status("node-z") == nil)
                #expect(!(try envoy.configDump()).contains("qpilot.middleware.greeter"))
            }
        }

        @Test("a join token works once, for its node, until it expires; unknown tokens and a wrong CA pin are refused with a clear message")
        func tokenRules() async throws {
            try await withHarness(middleware: nil, xdsExtra: Self.tls) { qpilot in
                let token = try Self.token(qpilot, fleet: "edge", node: "n1")
                let list = try qpilot.qctl(["node", "token", "list"])
                #expect(list.stdout.contains(token.id) && !list.stdout.contains(token.token ?? "-"), "a listed token must not show its secret")
                let (wrongNode, _) = try Self.enrol(qpilot, token: token, node: "n2")
                #expect(wrongNode.status != 0 && wrongNode.stderr.contains("this join token is for node n1, not n2"), "\(wrongNode)")
                let (first, enrolled) = try Self.enrol(qpilot, token: token, node: "n1")
                #expect(first.status == 0, "\(first)")
                #expect(first.stdout.contains("enrolled node n1 of fleet edge"))
                #expect(FileManager.default.fileExists(atPath: enrolled.bootstrap.path))
                let (again, _) = try Self.enrol(qpilot, token: token, node: "n1")
                #expect(again.status != 0 && again.stderr.contains("already used (by node n1"), "\(again)")

                var unknown = token
                unknown.token = "qpt.\(token.id).not-the-secret"
                let (forged, _) = try Self.enrol(qpilot, token: unknown, node: "n1")
                #expect(forged.status != 0 && forged.stderr.contains("unknown join token"), "\(forged)")

                let short = try Self.token(qpilot, fleet: "edge", node: nil, ttl: "1s")
                try await Task.sleep(for: .seconds(2))
                let (expired, _) = try Self.enrol(qpilot, token: short, node: "n3")
                #expect(expired.status != 0 && expired.stderr.contains("expired"), "\(expired)")

                let fresh = try Self.token(qpilot, fleet: "edge", node: nil)
                let (pinned, _) = try Self.enrol(qpilot, token: fresh, node: "n4", pin: String(repeating: "0", count: 64))
                #expect(pinned.status != 0 && pinned.stderr.contains("not the qpilot the token came from"), "\(pinned)")
                // The token was not spent by the refused attempt.
                let (good, _) = try Self.enrol(qpilot, token: fresh, node: "n4")
                #expect(good.status == 0, "\(good)")

                let metrics = try qpilot.api("GET", "/metrics").body
                for reason in ["used", "unknown", "expired", "other-node"] {
                    #expect(metrics.contains("qpilot_enrolments_refused_total{reason=\"\(reason)\"}"), "no count of \(reason) refusals")
                }
            }
        }

        @Test("renewing the node's and qpilot's certificates keeps Envoy's stream and config; a revoked node is cut off within seconds and cannot renew")
        func renewalAndRevocation() async throws {
            try await withHarness(middleware: entry("greeter", config: "hello"), xdsExtra: Self.tls) { qpilot in
                let node = try Self.enrolled(qpilot, node: "envoy-r")
                let envoy = try await qpilot.startEnvoy(bootstrap: node.bootstrap, nodeID: "envoy-r", adminPort: node.adminPort)
                try await eventually("in sync") { qpilot.isInSync("envoy-r") }
                let connected = try #require(qpilot.status("envoy-r")).connectedSince
                // Serials as numbers in hex without leading zeros, however a tool pads them.
                let normal = { (hex: Substring) -> String in String(hex.lowercased().drop { $0 == "0" }) }
                let held = { () throws -> Set<String> in
                    let certs = try curl(["http://127.0.0.1:\(node.adminPort)/certs"]).body
                    return Set(certs.split(separator: "\n").compactMap { line -> String? in
                        guard line.contains("\"serial_number\"") else { return nil }
                        return normal(line.split(separator: "\"").dropLast().last ?? "")
                    })
                }
                let serialOnDisk = { () throws -> String in
                    let printed = try run("/usr/bin/openssl", ["x509", "-noout", "-serial", "-in", node.file(Bootstrap.Files.certificate)])
                    return normal(Substring(printed.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")))
                }
                let before = try serialOnDisk()
                #expect(try held().contains(before), "Envoy does not hold the enrolled certificate")
                let versionBefore = try envoy.configDump().contains("qpilot.middleware.greeter")
                #expect(versionBefore)

                // Not due yet: nothing is renewed without --force.
                let early = try runTool(
                    Paths.repository.appendingPathComponent(".build/debug/qpilot").path, ["enroll", "--renew", "--dir", node.directory.path])
                #expect(early.status == 0 && early.stdout.contains("renewing once a third is left"), "\(early)")
                let renewed = try runTool(
                    Paths.repository.appendingPathComponent(".build/debug/qpilot").path,
                    ["enroll", "--renew", "--force", "--dir", node.directory.path])
                #expect(renewed.status == 0 && renewed.stdout.contains("renewed the certificate of node envoy-r"), "\(renewed)")
                let after = try serialOnDisk()
                #expect(after != before)
                try await eventually("Envoy to load the renewed certificate from its SDS file") { try held().contains(after) }
                // qpilot's own server certificate, renewed as if two thirds of its life had passed.
                let server = try #require(qpilot.runtime.serverCertificate)
                let expires = server.expires
                #expect(server.renewIfDue(now: Date().addingTimeInterval(100)))
                #expect(server.expires > expires)
                let check = try Self.pythonClient(qpilot, cert: node, node: "envoy-r", fleet: "default")
                #expect(check.status == 0, "a new connection after the server's renewal: \(check.answer)")
                let status = try #require(qpilot.status("envoy-r"))
                #expect(status.connected && status.connectedSince == connected, "the renewals dropped Envoy's stream")
                #expect(qpilot.isInSync("envoy-r"))
                #expect(try qpilot.echoedHeaders(try qpilot.proxied(), "x-qpilot-config") == ["hello"])

                let revoked = try qpilot.qctl(["node", "revoke", "envoy-r"])
                #expect(revoked.status == 0 && revoked.stdout.contains("1 open stream(s) ended"), "\(revoked)")
                try await eventually("the revoked node's stream to end", timeout: .seconds(5)) {
                    !(qpilot.status("envoy-r")?.connected ?? false)
                }
                try await eventually("Envoy to see it is cut off", timeout: .seconds(10)) {
                    try envoy.stat("control_plane.connected_state") == 0
                }
                try await eventually("qpilot to refuse the revoked node's reconnection", timeout: .seconds(10)) {
                    try Self.refusedStreams(qpilot, "revoked") > 0
                }
                let refusedRenewal = try runTool(
                    Paths.repository.appendingPathComponent(".build/debug/qpilot").path,
                    ["enroll", "--renew", "--force", "--dir", node.directory.path])
                #expect(refusedRenewal.status != 0 && refusedRenewal.stderr.contains("was revoked"), "\(refusedRenewal)")
                let list = try qpilot.qctl(["node", "list"])
                #expect(list.stdout.contains("envoy-r") && !list.stdout.hasSuffix("-\n"), "\(list)")

                // Back only with a token made for it by name; a fleet-wide token is refused and not spent.
                let fleetWide = try Self.token(qpilot, fleet: "default", node: nil)
                let (refused, _) = try Self.enrol(qpilot, token: fleetWide, node: "envoy-r")
                #expect(refused.status != 0 && refused.stderr.contains("only a token made for it"), "\(refused)")
                let (other, _) = try Self.enrol(qpilot, token: fleetWide, node: "envoy-s")
                #expect(other.status == 0, "the refused attempt spent the token: \(other)")
                // Keep the revoked certificate and key, as a thief would, then enrol the node again.
                let stolen = Enrolled(directory: qpilot.directory.appendingPathComponent("stolen"), adminPort: 0)
                try FileManager.default.copyItem(at: node.directory, to: stolen.directory)
                let (back, enrolledAgain) = try Self.enrol(qpilot, token: try Self.token(qpilot, fleet: "default", node: "envoy-r"), node: "envoy-r")
                #expect(back.status == 0, "\(back)")
                let current = try Self.pythonClient(qpilot, cert: enrolledAgain, node: "envoy-r", fleet: "default")
                #expect(current.status == 0, "\(current.answer)")
                let old = try Self.pythonClient(qpilot, cert: stolen, node: "envoy-r", fleet: "default")
                #expect(old.status == 1 && old.answer.contains("PERMISSION_DENIED") && old.answer.contains("replaced by a later enrolment"), "\(old.answer)")
                let oldRenewal = try runTool(
                    Paths.repository.appendingPathComponent(".build/debug/qpilot").path,
                    ["enroll", "--renew", "--force", "--dir", stolen.directory.path])
                #expect(oldRenewal.status != 0 && oldRenewal.stderr.contains("replaced by a later enrolment"), "\(oldRenewal)")
            }
        }

        @Test("without TLS, qctl node token create says nodes connect without enrolling")
        func tokensNeedTLS() async throws {
            try await withHarness(middleware: nil) { qpilot in
                let created = try qpilot.qctl(["node", "token", "create", "--fleet", "edge"])
                #expect(created.status != 0 && created.stderr.contains("xds.tls"), "\(created)")
            }
        }

        @Test("with TLS, qctl bootstrap points to enrolment instead of printing a bootstrap Envoy would be refused with")
        func bootstrapNeedsEnrolment() async throws {
            try await withHarness(middleware: nil, xdsExtra: Self.tls) { qpilot in
                let printed = try qpilot.qctl(["bootstrap", "--node", "e1", "--fleet", "edge"])
                #expect(printed.status != 0 && printed.stderr.contains("qctl node token create --fleet edge --node e1"), "\(printed)")
            }
        }
    }
}
