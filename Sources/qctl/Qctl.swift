import ArgumentParser
import Foundation

/// qctl: the operator CLI for qpilot.
@main
struct Qctl: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "qctl",
        abstract: "Operate qpilot: change the middleware chain, follow rollouts to every Envoy, check modules.",
        discussion: """
            Server commands find qpilot's admin API from --server and --token-file, else $QCTL_SERVER and \
            $QCTL_TOKEN, else `server:` and `tokenFile:` in $XDG_CONFIG_HOME/qctl/config.yaml \
            (~/.config/qctl/config.yaml), else http://127.0.0.1:18001.

            Exit codes:
              0   success
              1   error: qpilot refused or could not be reached; an invalid
                  module; a node not in sync (status)
              2   rollout failed: a node NACKed, or a later revision
                  superseded it (--wait)
              3   timeout: --wait gave up with nodes still pending
              64  usage: a bad command, option or value
            """,
        version: version,
        subcommands: [
            StatusCommand.self, GetCommand.self, PushCommand.self, ApplyCommand.self, DeleteCommand.self,
            EnableCommand.self, DisableCommand.self, HistoryCommand.self, RollbackCommand.self, RolloutCommand.self,
            SecretCommand.self, BootstrapCommand.self, CACommand.self, TLSCommand.self, NodeCommand.self, ModuleCommand.self, CompletionCommand.self, VersionCommand.self,
        ])

    /// ArgumentParser's own main, except that qctl's errors print as `error: …` with their own exit code.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as QctlError {
            fail(error)
        } catch let error as APIError {
            fail(error.qctlError)
        } catch {
            exit(withError: error)
        }
    }

    private static func fail(_ error: QctlError) -> Never {
        FileHandle.standardError.write(Data((error.report + "\n").utf8))
        Foundation.exit(error.exit.rawValue)
    }
}

/// `qctl version`.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print qctl's version.")
    func run() { print("qctl \(Qctl.version)") }
}
