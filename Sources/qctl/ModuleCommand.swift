import ArgumentParser
import Foundation
import Modules

/// `qctl module`: local module checks that need no server.
struct ModuleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "module",
        abstract: "Validate or inspect a Proxy-Wasm module, without a server.",
        subcommands: [Validate.self, Inspect.self])
}

/// Where a module comes from, and how to reach it.
struct SourceOptions: ParsableArguments {
    @Argument(help: "A path, file://, http(s):// (.wasm, .tar.gz, .tgz), or oci://host/repo:tag or @sha256:…")
    var source: String

    @Option(help: "Expected sha256 of the module; a mismatch is an error.")
    var sha256: String?

    @Option(help: "A docker config.json with registry logins.")
    var credentialsFile: String?

    @Option(help: "Largest module to accept, in bytes.")
    var maxModuleBytes: Int = 256 * 1024 * 1024

    @Option(help: "Seconds before one HTTP request gives up.")
    var timeout: Int = 60

    @Option(name: [.customShort("o"), .long], help: "table, json or yaml.")
    var output: OutputFormat = .table

    func validate() throws {
        guard maxModuleBytes > 0 else { throw ValidationError("--max-module-bytes must be greater than 0") }
        guard timeout > 0 else { throw ValidationError("--timeout must be greater than 0") }
    }

    /// Fetches the module, with a progress bar on a terminal.
    func fetch() async throws(ModuleError) -> ModuleFetcher.Fetched {
        var credentials = RegistryCredentials()
        if let file = credentialsFile {
            credentials = try RegistryCredentials.dockerConfig(at: URL(fileURLWithPath: file))
        }
        let base = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
        let parsed = try ModuleSource(parsing: source, relativeTo: base)
        var limits = FetchLimits(maxModuleBytes: maxModuleBytes, timeout: .seconds(timeout))
        // qctl fetches for the person who runs it, from their own machine: private networks are theirs.
        limits.allowPrivate = ["0.0.0.0/0", "::/0"]
        let fetcher = ModuleFetcher(limits: limits, credentials: credentials)
        let bar = ProgressBar(label: "fetching")
        defer { bar.finish() }
        var progress: (@Sendable (Int, Int?) -> Void)?
        if bar.isEnabled { progress = { received, total in bar.update(received, of: total) } }
        let expected = sha256.map { $0.lowercased().hasPrefix("sha256:") ? String($0.dropFirst(7)) : $0 }
        return try await fetcher.fetch(parsed, expectedSHA256: expected, progress: progress)
    }
}

/// `qctl module validate`.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check a module against the Proxy-Wasm ABI, as Envoy would when it loads it.",
        discussion: "Exits 0 when the module is valid, and 1 with every reason when it is not.")

    @OptionGroup var options: SourceOptions

    func run() async throws {
        let outcome = await ModuleCheck.run(options)
        print(try options.output.encode(outcome) ?? outcome.summary)
        if !outcome.valid { throw ExitCode(1) }
    }
}

/// `qctl module inspect`.
struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a module's report: ABI version, capabilities, imports, exports, size and sha256.")

    @OptionGroup var options: SourceOptions

    func run() async throws {
        let outcome = await ModuleCheck.run(options)
        print(try options.output.encode(outcome) ?? outcome.details)
        if !outcome.valid { throw ExitCode(1) }
    }
}
