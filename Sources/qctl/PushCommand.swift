import ArgumentParser
import Foundation
import Modules
import NIOHTTP1
import QpilotAPI

// The vocabularies are QpilotAPI's own, so qctl offers exactly what the server accepts.
extension FailurePolicy: ExpressibleByArgument {}
extension Phase: ExpressibleByArgument {}
extension PullPolicy: ExpressibleByArgument {}
extension Delivery: ExpressibleByArgument {}

/// `qctl push`: create or replace one middleware.
struct PushCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "push",
        abstract: "Create or replace one middleware (PUT /v1/middleware/NAME).",
        discussion: """
            The whole entry is replaced: a field you leave out takes its default (pull policy IfNotPresent, \
            failure policy closed, no phase, priority 0, every fleet, the server's delivery, enabled).

            SOURCE is fetched and validated by the qpilot server, not by qctl. A SOURCE that is a path to an \
            existing local file is sent as an absolute path, so the server must be able to read that path (the \
            same machine, or a shared disk) and it must lie in one of the server's modules.sourceDirs; otherwise \
            use an http(s):// or oci:// source. \
            `qctl module validate SOURCE` checks a module locally first.

            A `${secret:NAME}` string in the config is replaced by that secret's value when qpilot builds \
            Envoy's config (see `qctl secret set`).

            Example: qctl push pii-guard oci://registry.local/acme/pii-guard:1.4 --config-file pii.yaml --phase authz --wait
            """)

    @Argument(help: "The middleware's name, unique in the chain.")
    var name: String

    @Argument(
        help: ArgumentHelp(
            "A path (read by the server), file://, http(s):// (.wasm, .tar.gz) or oci://host/repo:tag or @sha256:…",
            valueName: "source"))
    var source: String

    @Option(help: "A file with the module's configuration: JSON, YAML (sent as JSON) or any text (sent as a string).")
    var configFile: String?

    @Option(help: ArgumentHelp("The configuration inline: JSON, else sent as a string.", valueName: "json"))
    var config: String?

    @Option(name: .customLong("fail"), help: "What Envoy does when the module cannot run: open or closed.")
    var failurePolicy: FailurePolicy?

    @Option(help: "The phase it runs in: authn, authz or stats.")
    var phase: Phase?

    // Unconditional, so that a negative value (`--priority -3`) is not taken for an option.
    @Option(parsing: .unconditional, help: "Order within its phase: the higher priority runs first.")
    var priority: Int?

    @Option(name: .customLong("fleet"), help: "A fleet it applies to; repeat for several. Default: every fleet.")
    var fleets: [String] = []

    @Option(help: "IfNotPresent or Always (refetch a mutable tag each time qpilot resolves it).")
    var pullPolicy: PullPolicy?

    @Option(help: "Pin the module's sha256 (64 hex digits, optionally after sha256:).")
    var sha256: String?

    @Option(help: "How Envoy gets the module: inline, file or remote. Default: the server's setting.")
    var delivery: Delivery?

    @Flag(help: "Only create: fail with 409 duplicate if NAME exists (POST /v1/middleware).")
    var createOnly = false

    @Flag(help: "Ask qpilot to fetch and validate the module (POST /v1/modules/validate), and write nothing.")
    var dryRun = false

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var write: WriteOptions

    func validate() throws {
        try MiddlewareName.check(name)
        if configFile != nil, config != nil { throw ValidationError("pass --config-file or --config, not both") }
        if let config { _ = try Self.inlineConfig(config) }
        if let sha256, MiddlewareRules.normalizedSHA256(sha256) == nil {
            throw ValidationError("--sha256: \(MiddlewareRules.sha256Problem)")
        }
        if !fleets.isEmpty, let problem = MiddlewareRules.fleetsProblem(fleets) { throw ValidationError("--fleet: \(problem)") }
        if dryRun, write.wait.wait || createOnly || write.ifMatch != nil {
            throw ValidationError("--dry-run writes nothing, so --wait, --create-only and --if-match do not apply")
        }
        if source.isEmpty { throw ValidationError("SOURCE must not be empty") }
    }

    static func inlineConfig(_ text: String) throws -> JSONValue {
        do {
            return try ConfigValue.parse(text, origin: "--config", yaml: false)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// An existing local file becomes an absolute path: the server resolves paths against its own directory.
    var resolvedSource: String {
        guard !source.contains("://") else { return source }
        let url = URL(fileURLWithPath: source, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath))
        return FileManager.default.fileExists(atPath: url.path) ? url.standardizedFileURL.path : source
    }

    func spec() throws -> MiddlewareSpec {
        var value: JSONValue?
        if let config { value = try Self.inlineConfig(config) }
        if let configFile {
            let text: String
            do {
                text = try Input.read(configFile)
            } catch {
                throw QctlError("cannot read --config-file \(configFile): \(error.localizedDescription)")
            }
            value = try ConfigValue.parse(text, origin: configFile)
        }
        return MiddlewareSpec(
            name: name, source: resolvedSource, sha256: sha256, pullPolicy: pullPolicy, config: value,
            failurePolicy: failurePolicy, phase: phase, priority: priority, fleets: fleets.isEmpty ? nil : fleets,
            delivery: delivery)
    }

    func run() async throws {
        let spec = try spec()
        let api = try connection.connect()
        if dryRun {
            let answer = try await api.send(.POST, "/v1/modules/validate", body: ValidateRequest(source: spec.source, sha256: sha256))
            let report = try api.decode(ModuleReport.self, from: answer)
            try write.output.print(report) {
                "\(spec.source): valid (Proxy-Wasm ABI \(report.abiVersion), \(report.size) bytes, sha256 \(report.sha256)); nothing written"
            }
            return
        }
        let answer = createOnly
            ? try await api.send(.POST, "/v1/middleware", body: spec, ifMatch: write.ifMatch)
            : try await api.send(.PUT, "/v1/middleware/\(Connection.segment(name))", body: spec, ifMatch: write.ifMatch)
        let verb = answer.status == 201 ? "created" : "replaced"
        try await WriteReport.finish(answer, what: "middleware \(name) \(verb)", connection: api, options: write)
    }
}

/// The middleware names qpilot accepts (the rule of qpilot.yaml and the API), checked before any request.
enum MiddlewareName {
    static func check(_ name: String) throws(ValidationError) {
        if let problem = MiddlewareRules.nameProblem(name) { throw ValidationError(problem) }
    }
}

/// Reading a file argument, where `-` means standard input.
enum Input {
    static func read(_ path: String) throws -> String {
        let data = path == "-"
            ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: path))
        guard let text = String(data: data, encoding: .utf8) else {
            throw QctlError("\(path == "-" ? "standard input" : path) is not UTF-8 text")
        }
        return text
    }
}
