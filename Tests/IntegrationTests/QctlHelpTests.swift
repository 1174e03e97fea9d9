import Foundation
import Testing

extension Integration {
    /// qctl's help texts, argument checks and context file, run as the built binary with no server.
    @Suite("qctl help, argument checks and context file")
    struct QctlHelpTests {
        /// One run's exit status and its two streams, kept apart so that tests can say where a message goes.
        typealias Run = QctlResult

        /// Runs qctl with only the environment given (plus PATH), so a developer's QCTL_* or config file cannot leak in.
        static func qctl(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> Run {
            var base = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
            // An empty home: no ~/.config/qctl/config.yaml unless a test writes one.
            base["HOME"] = FileManager.default.temporaryDirectory.appendingPathComponent("qctl-no-home-\(UUID().uuidString)").path
            return try runQctl(arguments, environment: base.merging(environment) { $1 }, inheritEnvironment: false, stdin: stdin)
        }

        static func temporaryDirectory() throws -> URL {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qctl-help-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return directory
        }

        @Test("The root help lists every command and the exit codes")
        func rootHelp() throws {
            let help = try Self.qctl(["--help"])
            #expect(help.status == 0)
            for command in [
                "status", "get", "push", "apply", "delete", "enable", "disable", "history", "rollback", "rollout", "secret",
                "bootstrap", "module", "completion", "version",
            ] {
                #expect(help.stdout.contains("\n  \(command) "), "missing \(command)")
            }
            for code in ["0   success", "1   error", "2   rollout failed", "3   timeout", "64  usage"] {
                #expect(help.stdout.contains(code), "missing exit code line \(code)")
            }
            #expect(help.stdout.contains("config.yaml"))
        }

        @Test("Each command's help names its options", arguments: [
            (["push", "--help"], ["--config-file", "--config", "--fail", "--phase", "--priority", "--fleet", "--pull-policy",
                                  "--sha256", "--delivery", "--if-match", "--wait", "--timeout", "read by the server", "absolute path"]),
            (["apply", "--help"], ["-f <file>", "standard input", "--wait", "middleware:"]),
            (["get", "--help"], ["--output", "yaml"]),
            (["history", "--help"], ["--limit"]),
            (["rollback", "--help"], ["<rev>", "--wait"]),
            (["rollout", "--help"], ["superseded", "--wait"]),
            (["delete", "--help"], ["--wait", "--if-match"]),
            (["enable", "--help"], ["--wait"]),
            (["disable", "--help"], ["--wait"]),
            (["secret", "set", "--help"], ["--from-file", "--from-literal", "trailing newline"]),
            (["secret", "list", "--help"], ["never their values"]),
            (["bootstrap", "--help"], ["--node", "--fleet", "--delta", "--admin-port"]),
            (["status", "--help"], ["--fleet", "yaml"]),
            (["completion", "--help"], ["bash", "zsh", "fish"]),
        ])
        func commandHelp(arguments: [String], expected: [String]) throws {
            let help = try Self.qctl(arguments)
            #expect(help.status == 0, "\(help.stderr)")
            for text in expected {
                #expect(help.stdout.contains(text), "\(arguments.joined(separator: " ")): missing \(text)")
            }
            // Every server command takes the connection options.
            if !["completion"].contains(arguments[0]) {
                #expect(help.stdout.contains("--server") && help.stdout.contains("--token-file"))
            }
        }

        @Test("a YAML alias bomb given to qctl apply is refused at once, before any request")
        func aliasBomb() throws {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("bomb-\(UUID().uuidString).yaml")
            defer { try? FileManager.default.removeItem(at: file) }
            var lines = ["middleware:", "  - name: m", "    source: m.wasm", "    config:", "      l0: &x0 [a, a, a, a, a, a, a, a, a]"]
            for level in 1..<25 { lines.append("      l\(level): &x\(level) [" + Array(repeating: "*x\(level - 1)", count: 9).joined(separator: ", ") + "]") }
            try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
            let run = try Self.qctl(["apply", "-f", file.path, "--server", "http://127.0.0.1:9"], environment: ["QCTL_TOKEN": "x"])
            #expect(run.status != 0)
            #expect(run.stderr.contains("more than 1000000 values once its YAML aliases"), "\(run.stderr)")
        }

        @Test("a negative --priority is a value, not an option")
        func negativePriority() throws {
            // Parsing passes, so qctl goes on to its connection and stops there (no token, no server).
            let run = try Self.qctl(["push", "guard", "x.wasm", "--priority", "-3", "--dry-run", "--server", "http://127.0.0.1:9"])
            #expect(run.status == 1, "\(run.stderr)")
            #expect(!run.stderr.contains("Missing value"), "\(run.stderr)")
        }

        @Test("Bad usage exits 64 with a message, before any request", arguments: [
            (["push", "guard", "x.wasm", "--config-file", "c.json", "--config", "{}"], "not both"),
            (["push", "guard", "x.wasm", "--config", "{\"a\": "], "not valid JSON"),
            (["push", "guard", "x.wasm", "--phase", "routing"], "routing"),
            (["push", "guard", "x.wasm", "--fail", "maybe"], "maybe"),
            (["push", "guard", "x.wasm", "--sha256", "abc"], "64 hex digits"),
            (["push", "bad name", "x.wasm"], "1-63 letters"),
            (["push", "guard", "x.wasm", "--wait", "--timeout", "soon"], "--timeout"),
            (["push", "guard", "x.wasm", "--wait", "--timeout", "0s"], "--timeout"),
            (["push", "guard", "x.wasm", "--wait", "--timeout", "-5"], "--timeout"),
            (["push", "guard", "x.wasm", "--timeout", "30s"], "only with --wait"),
            (["push", "guard", "x.wasm", "--dry-run", "--wait"], "--dry-run"),
            (["secret", "set", "api-key"], "--from-file"),
            (["secret", "set", "api-key", "--from-file", "-", "--from-literal", "v"], "not both"),
            (["apply"], "-f"),
            (["history", "--limit", "0"], "--limit"),
            (["rollback", "0"], "greater than 0"),
            (["rollout", "abc"], "abc"),
            (["get", "--output", "xml"], "xml"),
            (["bootstrap"], "--node"),
            (["bootstrap", "--node", "a b"], "--node"),
            (["bootstrap", "--node", "n", "--admin-port", "70000"], "--admin-port"),
            (["completion", "tcsh"], "tcsh"),
            (["get", "--server", "127.0.0.1:18001"], "http://"),
        ])
        func badUsage(arguments: [String], message: String) throws {
            let run = try Self.qctl(arguments)
            #expect(run.status == 64, "\(arguments.joined(separator: " ")): \(run.status) \(run.stderr)")
            #expect(run.stderr.contains(message), "\(arguments.joined(separator: " ")): \(run.stderr)")
            #expect(run.stdout.isEmpty)
        }

        @Test("A valid --timeout and every --output format parse")
        func goodValues() throws {
            // Valid values get as far as connecting, which fails on a closed port: exit 1, not 64.
            let port = try freePort()
            let token = try Self.temporaryDirectory().appendingPathComponent("token")
            try Data("t0k3n\n".utf8).write(to: token)
            let connection = ["--server", "http://127.0.0.1:\(port)", "--token-file", token.path]
            for arguments in [
                ["rollback", "4", "--wait", "--timeout", "90s"], ["rollback", "4", "--wait", "--timeout", "500ms"],
                ["rollback", "4", "--wait", "--timeout", "2m"], ["rollback", "4", "--wait", "--timeout", "15"],
                ["get", "-o", "json"], ["get", "--output", "yaml"], ["status", "--output", "yaml"],
            ] {
                let run = try Self.qctl(arguments + connection)
                #expect(run.status == 1, "\(arguments): \(run.stderr)")
                #expect(run.stderr.hasPrefix("error: cannot reach qpilot at http://127.0.0.1:\(port)"), "\(run.stderr)")
            }
        }

        @Test("The context file names the server and token file; its URL shows in the error")
        func contextFile() throws {
            let home = try Self.temporaryDirectory()
            let port = try freePort()
            let config = home.appendingPathComponent(".config/qctl")
            try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
            // A relative tokenFile is relative to the config file's directory.
            try Data("# qpilot admin tokens\nsecret-token-1\n".utf8).write(to: config.appendingPathComponent("token"))
            try Data("server: http://127.0.0.1:\(port)\ntokenFile: token\n".utf8)
                .write(to: config.appendingPathComponent("config.yaml"))

            let run = try Self.qctl(["get"], environment: ["HOME": home.path])
            #expect(run.status == 1)
            #expect(run.stderr.contains("http://127.0.0.1:\(port)"), "\(run.stderr)")
            #expect(run.stderr.hasPrefix("error: "))

            // $XDG_CONFIG_HOME wins over ~/.config.
            let xdg = try Self.temporaryDirectory()
            let otherPort = try freePort()
            try FileManager.default.createDirectory(at: xdg.appendingPathComponent("qctl"), withIntermediateDirectories: true)
            try Data("server: http://127.0.0.1:\(otherPort)\ntokenFile: \(config.appendingPathComponent("token").path)\n".utf8)
                .write(to: xdg.appendingPathComponent("qctl/config.yaml"))
            let fromXDG = try Self.qctl(["history"], environment: ["HOME": home.path, "XDG_CONFIG_HOME": xdg.path])
            #expect(fromXDG.status == 1)
            #expect(fromXDG.stderr.contains("http://127.0.0.1:\(otherPort)"), "\(fromXDG.stderr)")

            // Flags and variables win over the file.
            let flagged = try Self.qctl(
                ["get", "--server", "http://127.0.0.1:\(otherPort)"], environment: ["HOME": home.path])
            #expect(flagged.stderr.contains("http://127.0.0.1:\(otherPort)"), "\(flagged.stderr)")
            let variable = try Self.qctl(
                ["get"], environment: ["HOME": home.path, "QCTL_SERVER": "http://127.0.0.1:\(otherPort)"])
            #expect(variable.stderr.contains("http://127.0.0.1:\(otherPort)"), "\(variable.stderr)")
        }

        @Test("An unknown key in the context file is refused and named")
        func contextFileUnknownKey() throws {
            let home = try Self.temporaryDirectory()
            let config = home.appendingPathComponent(".config/qctl")
            try FileManager.default.createDirectory(at: config, withIntermediateDirectories: true)
            try Data("sever: http://127.0.0.1:1\n".utf8).write(to: config.appendingPathComponent("config.yaml"))
            let run = try Self.qctl(["get"], environment: ["HOME": home.path])
            #expect(run.status == 1)
            #expect(run.stderr.contains("unknown key 'sever'"), "\(run.stderr)")
            #expect(run.stderr.contains("server, tokenFile"))
        }

        @Test("Without any token qctl says where one can come from")
        func noToken() throws {
            let run = try Self.qctl(["get"])
            #expect(run.status == 1)
            #expect(run.stderr.contains("no token"))
            #expect(run.stderr.contains("QCTL_TOKEN"))
        }

        @Test("A secret's value is never printed, even when the request fails")
        func secretValueNotPrinted() throws {
            let port = try freePort()
            let value = "hunter2-\(UUID().uuidString)"
            let literal = try Self.qctl(
                ["secret", "set", "api-key", "--from-literal", value, "--server", "http://127.0.0.1:\(port)"],
                environment: ["QCTL_TOKEN": "t"])
            #expect(literal.status == 1)
            #expect(!literal.stdout.contains(value) && !literal.stderr.contains(value))
            let piped = try Self.qctl(
                ["secret", "set", "api-key", "--from-file", "-", "--server", "http://127.0.0.1:\(port)"],
                environment: ["QCTL_TOKEN": "t"], stdin: value + "\n")
            #expect(piped.status == 1)
            #expect(!piped.stdout.contains(value) && !piped.stderr.contains(value))
        }

        @Test("completion prints a script for each shell")
        func completion() throws {
            for shell in ["bash", "zsh", "fish"] {
                let run = try Self.qctl(["completion", shell])
                #expect(run.status == 0)
                #expect(run.stdout.contains("qctl"))
                #expect(run.stdout.contains("rollback"), "\(shell) script lacks the subcommands")
            }
        }
    }
}
