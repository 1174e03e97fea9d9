import ArgumentParser
import Foundation
import Logging
import QpilotServer

@main
struct Qpilot: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "qpilot",
        abstract: "A control plane for egress middleware on Envoy.",
        subcommands: [Serve.self, BootstrapCommand.self, EnrollCommand.self, RotateKey.self, SecretCommand.self, CACommand.self, Version.self])
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve xDS and modules from a qpilot.yaml.",
        discussion: """
            The file is reloaded when it changes and on SIGHUP. A file that fails to parse or \
            validate is refused with its line and field, and the running config stays.
            """)

    @Option(name: .long, help: "The qpilot.yaml to serve.")
    var config: String = "qpilot.yaml"

    @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of: trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        Self.releaseLargeBuffers()
        let level = Logger.Level(rawValue: logLevel)!
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "qpilot")
        let runtime: QpilotRuntime
        do {
            runtime = try await QpilotRuntime(configPath: config, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("qpilot: \(config): \(error)\n".utf8))
            throw ExitCode(2)
        }
        try await runtime.run()
    }
}

extension Serve {
    /// Large buffers go back to the system when freed. A push serializes each stream's response
    /// (with an inline module, megabytes) for a moment; glibc raises its mmap threshold to the
    /// size of the largest freed mapping (up to 32 MiB; mallopt(3), "M_MMAP_THRESHOLD"), after
    /// which such buffers come from the heap and their memory stays with the process: measured
    /// with the 3.4 MB Go-SDK module, 3.8 MB of RSS per ADS stream, against 67 KB with a fixed
    /// threshold (docs/benchmarks.md). A fixed threshold turns that adjustment off. An operator's
    /// own `MALLOC_MMAP_THRESHOLD_` wins.
    static func releaseLargeBuffers() {
        guard ProcessInfo.processInfo.environment["MALLOC_MMAP_THRESHOLD_"] == nil,
            // <malloc.h> is not in Swift's Glibc module: the C function, found by name (RTLD_DEFAULT).
            let symbol = dlsym(nil, "mallopt")
        else { return }
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        _ = mallopt(mmapThreshold, 1 << 20)
    }

    /// `M_MMAP_THRESHOLD` of glibc's <malloc.h>.
    static let mmapThreshold: Int32 = -3
}

struct BootstrapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootstrap",
        abstract: "Print an Envoy bootstrap that connects one Envoy to qpilot, or enrol the node first.",
        discussion: """
            Plaintext xDS (a loopback qpilot): qpilot bootstrap --node-id envoy-1 --fleet default > envoy.yaml && envoy -c envoy.yaml

            With TLS, the node enrols with a join token from `qctl node token create`, which prints the whole command:
              qpilot bootstrap --enroll https://qpilot.example.com:18002 --token qpt.… --ca-sha256 … --node-id envoy-1 --out /etc/envoy/qpilot
            It writes the node's key (0600), certificate, qpilot's CA and envoy.yaml into --out; the fleet comes from the token.
            """)

    @Option(help: "The node id, unique per Envoy.")
    var nodeId: String

    @Option(help: "The fleet: nodes in one fleet share one config.")
    var fleet: String = "default"

    @Option(
        help: """
            qpilot's xDS address, host:port; several replicas of one qpilot as host1:port,host2:port (Envoy moves to another \
            when its stream ends). Default: 127.0.0.1:18000, or with --enroll the enrolment host and qpilot's xDS port.
            """)
    var xds: String?

    @Flag(help: "Use Delta (incremental) xDS instead of State of the World.")
    var delta = false

    @Option(help: "Envoy's admin port on 127.0.0.1.")
    var adminPort: Int = 9901

    @Option(help: "Enrol first, at qpilot's module port: https://HOST:PORT.")
    var enroll: String?

    @Option(help: "With --enroll: the join token from `qctl node token create`.")
    var token: String?

    @Option(name: .customLong("ca-sha256"), help: "With --enroll: the SHA-256 of qpilot's CA, printed with the token.")
    var caSha256: String?

    @Option(help: "With --enroll: qpilot's CA certificate (PEM) instead of --ca-sha256.")
    var caFile: String?

    @Option(help: "With --enroll: the directory to write the key, certificates and envoy.yaml into.")
    var out: String?

    func run() async throws {
        if let enroll {
            do {
                try await self.enroll(url: enroll)
            } catch let error as ValidationError {
                throw error
            } catch {
                FileHandle.standardError.write(Data("qpilot bootstrap: \(error)\n".utf8))
                throw ExitCode(1)
            }
            return
        }
        let addresses = try Bootstrap.addresses(xds ?? "127.0.0.1:18000")
        let bootstrap = Bootstrap(
            nodeID: nodeId, fleet: fleet, xds: addresses[0], replicas: Array(addresses.dropFirst()), delta: delta, adminPort: adminPort)
        do {
            try bootstrap.validate()
        } catch {
            throw ValidationError(error.description)
        }
        print(bootstrap.yaml, terminator: "")
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print qpilot's version.")
    func run() { print("qpilot \(Qpilot.version)") }
}
