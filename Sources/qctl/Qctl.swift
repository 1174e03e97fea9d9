import ArgumentParser

/// qctl: the operator CLI for qpilot.
@main
struct Qctl: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "qctl",
        abstract: "Operate qpilot: see which Envoys took a change, and check modules before they ship.",
        discussion: """
            Exit codes: 0 success; 1 failure (an invalid module, a node not in sync, qpilot unreachable); 64 bad usage.
            Shell completion: qctl --generate-completion-script bash|zsh|fish.
            """,
        version: version,
        subcommands: [StatusCommand.self, ModuleCommand.self, VersionCommand.self])
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print qctl's version.")
    func run() { print("qctl \(Qctl.version)") }
}
