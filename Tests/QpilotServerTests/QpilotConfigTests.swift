import Foundation
import PKI
import QpilotAPI
import QpilotServer
import Testing
import Translator

/// The 1-based line of the first line of `text` that contains `marker`.
func line(of marker: String, in text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Int? {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard let index = lines.firstIndex(where: { $0.contains(marker) }) else {
        Issue.record("marker '\(marker)' is not in the text", sourceLocation: sourceLocation)
        return nil
    }
    return index + 1
}

@Suite("qpilot.yaml")
struct QpilotConfigTests {
    static let full = """
        # every field, none at its default
        xds:
          address: 0.0.0.0:19000
          maxReceiveBytes: 8388608
        admin:
          address: 127.0.0.1:19001
          tokensFile: /etc/qpilot/tokens
        modules:
          address: 0.0.0.0:19002
          publicAddress: "[fd00::1]:19002"
          sharedDir: /var/lib/qpilot/shared
          credentialsFile: /etc/qpilot/docker.json
          maxModuleBytes: 1048576
          maxDecompressedBytes: 2097152
          fetchTimeoutSeconds: 15
          refreshSeconds: 300
          allowPrivate: [registry.internal, "*.corp.example", 10.20.0.0/16]
        dataDir: /var/lib/qpilot
        egress:
          address: 0.0.0.0
          port: 15001
          accessLog: /var/log/egress.log
          allowInternal: ["127.0.0.1:18080", "[::1]:8000-8099"]
        callout:
          accessLog: null
        delivery: remote
        middleware:
        - name: auth
          source: modules/auth.wasm
          config:
            realm: corp
          failurePolicy: open
          phase: authn
          priority: 10
          fleets: [edge, core]
          delivery: file
          sha256: "sha256:ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"
          pullPolicy: Always
        - name: stats_v2
          source: file:///opt/stats.wasm
        """

    @Test("a file with every field parses into every setting")
    func fullFile() throws {
        let config = try QpilotConfig.parse(Self.full)
        #expect(config.server.xds.address == HostPort(host: "0.0.0.0", port: 19000))
        #expect(config.server.xds.maxReceiveBytes == 8_388_608)
        #expect(config.server.admin.address == HostPort(host: "127.0.0.1", port: 19001))
        #expect(config.server.modules.address == HostPort(host: "0.0.0.0", port: 19002))
        #expect(config.server.modules.publicAddress == HostPort(host: "fd00::1", port: 19002))
        #expect(config.server.modules.sharedDir?.path == "/var/lib/qpilot/shared")
        #expect(config.server.modules.credentialsFile?.path == "/etc/qpilot/docker.json")
        #expect(config.server.modules.maxModuleBytes == 1_048_576)
        #expect(config.server.modules.maxDecompressedBytes == 2_097_152)
        #expect(config.server.modules.fetchTimeoutSeconds == 15)
        #expect(config.server.modules.refreshSeconds == 300)
        #expect(config.server.dataDir.path == "/var/lib/qpilot")
        #expect(config.desired.egress.address == "0.0.0.0")
        #expect(config.desired.egress.port == 15001)
        #expect(config.desired.egress.accessLog == "/var/log/egress.log")
        #expect(config.server.modules.allowPrivate == ["registry.internal", "*.corp.example", "10.20.0.0/16"])
        #expect(config.desired.egress.allowInternal.map(\.description) == ["127.0.0.1:18080", "[::1]:8000-8099"])
        #expect(config.desired.callout.accessLog == nil, "null turns the callout log off")
        #expect(config.desired.delivery == .remote)
        #expect(config.desired.mode == .file)
        #expect(config.desired.middleware?.count == 2)

        let auth = try #require(config.desired.middleware?.first)
        #expect(auth.name == "auth")
        #expect(auth.source == "modules/auth.wasm")
        #expect(auth.config == #"{"realm":"corp"}"#)
        #expect(auth.failurePolicy == .open)
        #expect(auth.phase == .authn)
        #expect(auth.priority == 10)
        #expect(auth.fleets == ["edge", "core"])
        #expect(auth.delivery == .file)
        #expect(auth.sha256 == "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", "lowercased, prefix dropped")
        #expect(auth.pullPolicy == .always)
        #expect(auth.place.line == line(of: "- name: auth", in: Self.full))
        #expect(auth.place.sourceLine == line(of: "source: modules/auth.wasm", in: Self.full))

        let stats = try #require(config.desired.middleware?.last)
        #expect(stats.name == "stats_v2")
        #expect(stats.source == "file:///opt/stats.wasm")
        #expect(stats.config == "")
        #expect(stats.failurePolicy == .closed, "fails closed unless told otherwise")
        #expect(stats.phase == nil)
        #expect(stats.priority == 0)
        #expect(stats.fleets == nil)
        #expect(stats.delivery == nil, "inherits the top-level delivery")
        #expect(stats.sha256 == nil)
        #expect(stats.pullPolicy == .ifNotPresent)
    }

    @Test("an empty file gives the defaults")
    func defaults() throws {
        let config = try QpilotConfig.parse("")
        #expect(config == QpilotConfig(directory: URL(fileURLWithPath: "/")))
        #expect(config.server.xds.address.description == "127.0.0.1:18000")
        #expect(config.desired.delivery == nil, "chosen by module size")
        #expect(config.server.modules.inlineMaxBytes == 1024 * 1024)
        #expect(config.desired.callout.accessLog == "/dev/stdout")
        #expect(config.desired.mode == .store)
    }

    @Test("an empty middleware section is a section with no middleware")
    func emptyMiddleware() throws {
        let config = try QpilotConfig.parse("middleware:\n")
        #expect(config.desired.mode == .file)
        #expect(config.desired.middleware?.isEmpty == true)
    }

    /// A broken file and what its error must say.
    struct Broken: Sendable, CustomTestStringConvertible {
        let label: String
        let yaml: String
        /// The error's line is the line holding this text.
        let lineMarker: String
        let field: String
        let mentions: [String]
        var testDescription: String { label }
    }

    static let broken: [Broken] = [
        Broken(
            label: "unknown top-level field",
            yaml: """
                xds:
                  address: 127.0.0.1:18000
                colour: blue
                """,
            lineMarker: "colour", field: "colour",
            mentions: ["unknown field 'colour'", "known fields here", "middleware", "egress"]),
        Broken(
            label: "unknown middleware field",
            yaml: """
                middleware:
                - name: auth
                  source: auth.wasm
                  prio: 3
                """,
            lineMarker: "prio", field: "middleware[0].prio",
            mentions: ["unknown field 'prio'", "priority", "failurePolicy"]),
        Broken(
            label: "wrong type",
            yaml: """
                middleware:
                - name: auth
                  source: auth.wasm
                - name: stats
                  source: stats.wasm
                  priority: "high"
                """,
            lineMarker: "priority", field: "middleware[1].priority",
            mentions: ["whole number"]),
        Broken(
            label: "bad enum value",
            yaml: """
                middleware:
                - name: auth
                  source: auth.wasm
                  failurePolicy: maybe
                """,
            lineMarker: "failurePolicy", field: "middleware[0].failurePolicy",
            mentions: ["'maybe'", "closed", "open"]),
        Broken(
            label: "bad top-level delivery",
            yaml: "delivery: carrier-pigeon\n",
            lineMarker: "delivery", field: "delivery",
            mentions: ["'carrier-pigeon'", "inline", "file", "remote"]),
        Broken(
            label: "duplicate middleware name",
            yaml: """
                middleware:
                - name: auth
                  source: auth.wasm
                - name: stats
                  source: stats.wasm
                - name: auth  # again
                  source: other.wasm
                """,
            lineMarker: "# again", field: "middleware[2].name",
            mentions: ["duplicate middleware name 'auth'", "first defined on line 2"]),
        Broken(
            label: "bad host:port",
            yaml: """
                dataDir: ./data
                xds:
                  address: localhost
                """,
            lineMarker: "localhost", field: "xds.address",
            mentions: ["host:port", "'localhost'"]),
        Broken(
            label: "a listen address that is not an IP literal",
            yaml: """
                admin:
                  address: qpilot.internal:18001
                """,
            lineMarker: "qpilot.internal", field: "admin.address",
            mentions: ["IP address", "'qpilot.internal'"]),
        Broken(
            label: "port out of range",
            yaml: """
                modules:
                  publicAddress: qpilot:70000
                """,
            lineMarker: "70000", field: "modules.publicAddress",
            mentions: ["host:port", "'qpilot:70000'"]),
        Broken(
            label: "missing source",
            yaml: """
                middleware:
                - name: auth
                  source: auth.wasm
                - name: stats
                  phase: stats
                """,
            lineMarker: "name: stats", field: "middleware[1]",
            mentions: ["'stats'", "needs a source"]),
        Broken(
            label: "empty fleets list",
            yaml: """
                middleware:
                - name: auth
                  source: auth.wasm
                  fleets: []
                """,
            lineMarker: "fleets", field: "middleware[0].fleets",
            mentions: ["empty fleet list"]),
        Broken(
            label: "delivery file without modules.sharedDir",
            yaml: """
                dataDir: ./data
                delivery: file
                middleware:
                - name: auth
                  source: auth.wasm
                """,
            lineMarker: "delivery", field: "modules.sharedDir",
            mentions: ["delivery 'file'", "modules.sharedDir"]),
        Broken(
            label: "a middleware's own delivery file without modules.sharedDir",
            yaml: """
                middleware:
                - name: auth
                  source: auth.wasm
                  delivery: file
                """,
            lineMarker: "- name: auth", field: "modules.sharedDir",
            mentions: ["delivery 'file'", "modules.sharedDir"]),
        Broken(
            label: "a middleware's own delivery file, when the default is inline",
            yaml: """
                delivery: inline
                modules:
                  address: 127.0.0.1:18002
                middleware:
                - name: auth
                  source: auth.wasm
                - name: stats
                  source: stats.wasm
                  delivery: file
                """,
            lineMarker: "- name: stats", field: "modules.sharedDir",
            mentions: ["delivery 'file'", "modules.sharedDir"]),
        Broken(
            label: "a sha256 that is not 64 hex digits",
            yaml: """
                middleware:
                - name: auth
                  source: auth.wasm
                  sha256: abc123
                """,
            lineMarker: "abc123", field: "middleware[0].sha256",
            mentions: ["64 hex digits"]),
        Broken(
            label: "a limit that is not positive",
            yaml: """
                modules:
                  maxModuleBytes: 0
                """,
            lineMarker: "maxModuleBytes", field: "modules.maxModuleBytes",
            mentions: ["greater than 0"]),
        Broken(
            label: "bad middleware name",
            yaml: """
                middleware:
                - name: "has spaces"
                  source: auth.wasm
                """,
            lineMarker: "has spaces", field: "middleware[0].name",
            mentions: ["'has spaces'", "letters, digits"]),
        Broken(
            label: "egress port out of range",
            yaml: """
                egress:
                  port: 0
                """,
            lineMarker: "port", field: "egress.port",
            mentions: ["between 1 and 65535"]),
        Broken(
            label: "an internal destination given by name",
            yaml: """
                egress:
                  allowInternal:
                    - localhost:9901
                """,
            lineMarker: "localhost", field: "egress.allowInternal[0]",
            mentions: ["'localhost' is not an IP address", "such as 127.0.0.1:18080"]),
        Broken(
            label: "an allowPrivate entry that is a URL",
            yaml: """
                modules:
                  allowPrivate: ["http://registry.internal"]
                """,
            lineMarker: "allowPrivate", field: "modules.allowPrivate[0]",
            mentions: ["neither a host name", "10.20.0.0/16"]),
        Broken(
            label: "a section that is not a mapping",
            yaml: """
                egress: 10000
                """,
            lineMarker: "egress", field: "egress",
            mentions: ["expected a mapping"]),
        Broken(
            label: "middleware that is not a list",
            yaml: """
                middleware:
                  name: auth
                """,
            lineMarker: "name: auth", field: "middleware",
            mentions: ["expected a list"]),
        Broken(
            label: "an intercepted host that is not a host name",
            yaml: """
                tls:
                  intercept: [api.example.com, "api.*.example.com"]
                """,
            lineMarker: "intercept", field: "tls.intercept[1]",
            mentions: ["'api.*.example.com' is not a host name or '*.domain' pattern", "'*' may only stand alone"]),
        Broken(
            label: "an intercepted wildcard over a top-level domain",
            yaml: """
                tls:
                  intercept:
                    - { host: "*.com", fleets: [payments] }
                """,
            lineMarker: "*.com", field: "tls.intercept[0].host",
            mentions: ["whole top-level domain"]),
        Broken(
            label: "an intercepted IP address",
            yaml: """
                tls:
                  intercept: [10.0.0.1]
                """,
            lineMarker: "intercept", field: "tls.intercept[0]",
            mentions: ["IP address"]),
        Broken(
            label: "an unreadable upstreamCA",
            yaml: """
                tls:
                  upstreamCA: /nonexistent/roots.pem
                """,
            lineMarker: "upstreamCA", field: "tls.upstreamCA",
            mentions: ["tls.upstreamCA: cannot read /nonexistent/roots.pem", "no such file"]),
        Broken(
            label: "an upstreamCA that is not a file",
            yaml: """
                tls:
                  upstreamCA: /dev/zero
                """,
            lineMarker: "upstreamCA", field: "tls.upstreamCA",
            mentions: ["not a regular file"]),
        Broken(
            label: "an upstreamCA with no certificate",
            yaml: """
                tls:
                  upstreamCA: /etc/hostname
                """,
            lineMarker: "upstreamCA", field: "tls.upstreamCA",
            mentions: ["/etc/hostname"]),
        Broken(
            label: "a leaf lifetime past 24 hours",
            yaml: """
                tls:
                  leafLifetimeSeconds: 172800
                """,
            lineMarker: "leafLifetimeSeconds", field: "tls.leafLifetimeSeconds",
            mentions: ["between 10 and 86400"]),
        Broken(
            label: "an xDS certificate lifetime under a minute",
            yaml: """
                xds:
                  certificateLifetimeSeconds: 5
                """,
            lineMarker: "certificateLifetimeSeconds", field: "xds.certificateLifetimeSeconds",
            mentions: ["between 60 seconds and 30 days"]),
        Broken(
            label: "a server name with a space",
            yaml: """
                xds:
                  serverNames: ["qpilot example"]
                """,
            lineMarker: "serverNames", field: "xds.serverNames[0]",
            mentions: ["DNS name or an IP address"]),
    ]

    @Test("xds.tls is on by default unless xDS listens on loopback; serverNames and the certificate lifetime are read")
    func xdsTLS() throws {
        let directory = FileManager.default.temporaryDirectory
        #expect(try QpilotConfig.parse("xds: { address: 127.0.0.1:18000 }", directory: directory).server.xds.tlsEnabled == false)
        #expect(try QpilotConfig.parse("xds: { address: '[::1]:18000' }", directory: directory).server.xds.tlsEnabled == false)
        #expect(try QpilotConfig.parse("xds: { address: 0.0.0.0:18000 }", directory: directory).server.xds.tlsEnabled)
        #expect(try QpilotConfig.parse("xds: { address: 10.1.2.3:18000 }", directory: directory).server.xds.tlsEnabled)
        #expect(try QpilotConfig.parse("xds: { address: 0.0.0.0:18000, tls: false }", directory: directory).server.xds.tlsEnabled == false)
        let config = try QpilotConfig.parse(
            "xds: { address: 127.0.0.1:18000, tls: true, serverNames: [qpilot.example.test, 10.0.0.5], certificateLifetimeSeconds: 3600 }",
            directory: directory)
        #expect(config.server.xds.tlsEnabled)
        #expect(config.server.serverCertificateNames == ["qpilot.example.test", "10.0.0.5"])
        #expect(config.server.xds.certificateLifetimeSeconds == 3600)
        let defaults = try QpilotConfig.parse("xds: { address: 0.0.0.0:18000 }", directory: directory).server
        #expect(defaults.serverCertificateNames.starts(with: ["localhost", "127.0.0.1", "::1"]))
        #expect(!defaults.serverCertificateNames.contains("0.0.0.0"))
    }

    @Test("tls.intercept: names and wildcards, for every fleet or some; upstreamCA adds its roots to the system bundle")
    func intercept() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let authority = try CertificateAuthority.create(commonName: "roots test")
        try authority.pem.write(to: directory.appendingPathComponent("roots.pem"), atomically: true, encoding: .utf8)
        let config = try QpilotConfig.parse(
            """
            tls:
              leafLifetimeSeconds: 3600
              upstreamCA: ./roots.pem
              intercept:
                - API.Stripe.com
                - "*.openai.com"
                - { host: api.twilio.com, fleets: [payments] }
              originate: [{ host: billing.internal.example, fleets: [batch] }]
            """, directory: directory)
        #expect(config.server.tls.leafLifetimeSeconds == 3600)
        let intercept = config.desired.tls.intercept
        #expect(intercept.map(\.host.text) == ["api.stripe.com", "*.openai.com", "api.twilio.com"])
        #expect(intercept.map(\.fleets) == [nil, nil, ["payments"]])
        let roots = try #require(config.desired.tls.upstreamCA)
        #expect(roots.hasPrefix(authority.pem))
        if FileManager.default.fileExists(atPath: DesiredState.TLS.systemBundle) {
            #expect(roots.count > authority.pem.count, "the system bundle was not added")
        }
        // Fleets named only by an intercepted host still get a config of their own.
        let state = DesiredState(
            egress: .init(address: "127.0.0.1", port: 10000), callout: .init(),
            moduleEndpoint: .init(host: "127.0.0.1", port: 18002), middleware: [], tls: config.desired.tls)
        #expect(config.desired.tls.originate.map(\.host.text) == ["billing.internal.example"])
        #expect(state.fleetKeys == [.named("batch"), .named("payments"), .everyOther])
        #expect(state.tls.originated(for: .named("batch")).map(\.text) == ["billing.internal.example"])
        #expect(state.tls.originated(for: .everyOther).isEmpty)
        #expect(state.tls.patterns(for: .named("payments")).map(\.text) == ["*.openai.com", "api.stripe.com", "api.twilio.com"])
        #expect(state.tls.patterns(for: .everyOther).map(\.text) == ["*.openai.com", "api.stripe.com"])
    }

    @Test("errors name the line, the field and what is wrong", arguments: broken)
    func errors(broken: Broken) throws {
        let error = try #require(throws: QpilotError.self) { try QpilotConfig.parse(broken.yaml) }
        #expect(error.line == line(of: broken.lineMarker, in: broken.yaml))
        #expect(error.field == broken.field)
        for mention in broken.mentions {
            #expect(error.message.contains(mention), "\(error.message)")
        }
        #expect(error.description.hasPrefix("line \(error.line ?? -1): \(broken.field): "))
    }

    @Test(
        "invalid YAML is reported with the line where the parser stopped",
        arguments: [
            // The list opened on line 2 is still open when line 3 starts a new key.
            ("xds:\n  address: [127.0.0.1:18000\nadmin:\n  address: x\n", 3, "did not find expected ',' or ']'"),
            ("egress:\n  port: 1\n\tbad: tab\n", 3, "tab character"),
            // The quote opened on line 3 runs to the end of the text, after its last newline.
            ("middleware:\n- name: a\n  source: \"unterminated\n", 4, "end of stream"),
        ])
    func invalidYAML(yaml: String, expectedLine: Int, problem: String) throws {
        let error = try #require(throws: QpilotError.self) { try QpilotConfig.parse(yaml) }
        #expect(error.field == "")
        #expect(error.line == expectedLine)
        #expect(error.message.hasPrefix("not valid YAML: "))
        #expect(error.message.contains(problem))
        #expect(error.description.hasPrefix("line \(expectedLine): not valid YAML"))
    }

    /// A middleware config of 9^levels values (and a few more) written with anchors and aliases.
    static func aliasBomb(levels: Int) -> String {
        var lines = ["middleware:", "  - name: m", "    source: m.wasm", "    config:", "      l0: &x0 [a, a, a, a, a, a, a, a, a]"]
        for level in 1..<levels { lines.append("      l\(level): &x\(level) [" + Array(repeating: "*x\(level - 1)", count: 9).joined(separator: ", ") + "]") }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("a YAML alias bomb is refused at once: past a million values the whole file, past 100,000 a middleware's config")
    func aliasBomb() throws {
        // 9^25 values in 27 lines: counted on libyaml's events before anything is built.
        let file = try #require(throws: QpilotError.self) { try QpilotConfig.parse(Self.aliasBomb(levels: 25)) }
        #expect(file.message.contains("more than 1000000 values once its YAML aliases"), "\(file)")
        // The same as a mapping key, which Yams would hash whole to look for duplicates.
        let key = "a: &x0 [a, a, a, a, a, a, a, a, a]\n" + (1..<25).map { "b\($0): &x\($0) [" + Array(repeating: "*x\($0 - 1)", count: 9).joined(separator: ", ") + "]" }
            .joined(separator: "\n") + "\n? *x24\n: 1\n"
        let keyed = try #require(throws: QpilotError.self) { try QpilotConfig.parse(key) }
        #expect(keyed.message.contains("more than 1000000 values"), "\(keyed)")
        // 9^6 = 531,441 values: under the file's limit, over a config's.
        let config = try #require(throws: QpilotError.self) { try QpilotConfig.parse(Self.aliasBomb(levels: 6)) }
        #expect(config.field == "middleware[0].config")
        #expect(config.message.contains("more than 100000 values once YAML aliases are expanded"), "\(config)")
    }

    @Test("duplicate keys in YAML are refused")
    func duplicateKeys() throws {
        let yaml = "dataDir: a\ndataDir: b\n"
        let error = try #require(throws: QpilotError.self) { try QpilotConfig.parse(yaml) }
        #expect(error.message.contains("dataDir"))
    }

    // MARK: config: as JSON

    @Test("config: is turned into JSON: nested maps, lists, numbers, booleans, null and strings")
    func configAsJSON() throws {
        let yaml = #"""
            middleware:
            - name: auth
              source: auth.wasm
              config:
                realm: corp
                greeting: 'say "hi" \ bye'
                limits: {rps: 10, burst: 2.5, negative: -3}
                enabled: true
                disabled: false
                tags: [a, "b", 3]
                nested:
                  - key: v
                    list: []
                  - {}
                note: |
                  line one
                  line two
                nothing: null
                tilde: ~
                quotedNumber: "42"
                quotedBool: "true"
                unicode: "café ☕"
                tab: "a\tb"
            """#
        let config = try QpilotConfig.parse(yaml)
        let json = try #require(config.desired.middleware?.first?.config)
        let expected = #"""
            {"realm":"corp","greeting":"say \"hi\" \\ bye","limits":{"rps":10,"burst":2.5,"negative":-3},\#
            "enabled":true,"disabled":false,"tags":["a","b",3],"nested":[{"key":"v","list":[]},{}],\#
            "note":"line one\nline two\n","nothing":null,"tilde":null,"quotedNumber":"42","quotedBool":"true",\#
            "unicode":"café ☕","tab":"a\tb"}
            """#
        #expect(json == expected)

        // And it is JSON that a JSON parser reads back to the same values.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["greeting"] as? String == #"say "hi" \ bye"#)
        #expect(object["note"] as? String == "line one\nline two\n")
        #expect((object["limits"] as? [String: Any])?["rps"] as? Int == 10)
        #expect(object["nothing"] is NSNull)
    }

    @Test(
        "a scalar config reaches the module as written; a list as JSON",
        arguments: [
            ("config: hello", "hello"),
            ("config: 5", "5"),
            ("config: \"quoted: text\"", "quoted: text"),
            ("config: |\n    multi\n    line", "multi\nline\n"),
            ("config: [1, two]", #"[1,"two"]"#),
            ("config: null", "null"),
        ])
    func scalarConfig(line: String, expected: String) throws {
        let config = try QpilotConfig.parse("middleware:\n- name: a\n  source: a.wasm\n  \(line)\n")
        #expect(config.desired.middleware?.first?.config == expected)
    }

    @Test("localhost as a listen address means 127.0.0.1; publicAddress may be a name")
    func localhost() throws {
        let config = try QpilotConfig.parse("""
            xds:
              address: localhost:18000
            modules:
              publicAddress: qpilot.internal:18002
            """)
        #expect(config.server.xds.address == HostPort(host: "127.0.0.1", port: 18000))
        #expect(config.server.modules.publicAddress == HostPort(host: "qpilot.internal", port: 18002))
    }

    // MARK: host:port

    @Test(
        "host:port accepts names, IPv4 and bracketed IPv6",
        arguments: [
            ("127.0.0.1:18000", "127.0.0.1", 18000),
            ("qpilot.internal:80", "qpilot.internal", 80),
            ("[::1]:9901", "::1", 9901),
        ])
    func hostPort(text: String, host: String, port: Int) throws {
        let parsed = try #require(HostPort(text))
        #expect(parsed.host == host)
        #expect(parsed.port == port)
        #expect(parsed.description == text)
    }

    @Test("host:port refuses what is not one", arguments: ["localhost", ":80", "host:", "host:http", "host:65536", "[::1]80", "[::1]"])
    func badHostPort(text: String) {
        #expect(HostPort(text) == nil)
    }

    @Test("store: a postgres:// URL, or url and passwordFile; a bad URL is refused with its line; QPILOT_DATABASE_URL wins over the file")
    func storeSettings() throws {
        let directory = URL(fileURLWithPath: "/etc/qpilot")
        #expect(try QpilotConfig.parse("").server.store == nil, "SQLite in dataDir unless told")
        #expect(
            try QpilotConfig.parse("store: postgres://qpilot@db:5432/qpilot", directory: directory).server.store
                == ServerSettings.Store(url: "postgres://qpilot@db:5432/qpilot"))
        let mapped = try QpilotConfig.parse(
            "store:\n  url: postgres://qpilot@db/qpilot?sslmode=verify-full\n  passwordFile: db-password\n", directory: directory)
        #expect(
            mapped.server.store
                == ServerSettings.Store(
                    url: "postgres://qpilot@db/qpilot?sslmode=verify-full", passwordFile: URL(fileURLWithPath: "/etc/qpilot/db-password")))

        let bad = #expect(throws: QpilotError.self) { try QpilotConfig.parse("dataDir: ./data\nstore: mysql://qpilot@db/qpilot\n") }
        #expect(bad?.line == 2 && bad?.field == "store", "\(String(describing: bad))")
        let noURL = #expect(throws: QpilotError.self) { try QpilotConfig.parse("store: { passwordFile: pw }") }
        #expect(noURL?.description.contains("give store.url") == true)
        let unknown = #expect(throws: QpilotError.self) { try QpilotConfig.parse("store: { url: 'postgres://a@b/c', user: x }") }
        #expect(unknown?.description.contains("unknown field 'user'") == true)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-store-\(UUID().uuidString).yaml")
        try "store: { url: 'postgres://qpilot@file-db/qpilot', passwordFile: /run/pw }\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let fromEnvironment = try QpilotConfig.load(file, environment: ["QPILOT_DATABASE_URL": "postgres://qpilot@env-db/qpilot"])
        #expect(
            fromEnvironment.config.server.store
                == ServerSettings.Store(url: "postgres://qpilot@env-db/qpilot", passwordFile: URL(fileURLWithPath: "/run/pw")))
        #expect(try QpilotConfig.load(file, environment: [:]).config.server.store?.url == "postgres://qpilot@file-db/qpilot")
        let badEnvironment = #expect(throws: QpilotError.self) {
            try QpilotConfig.load(file, environment: ["QPILOT_DATABASE_URL": "db.internal:5432"])
        }
        #expect(badEnvironment?.field == "QPILOT_DATABASE_URL")
    }
}
