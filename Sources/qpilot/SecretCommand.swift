import ArgumentParser
import Foundation
import QpilotServer
import Store

/// `qpilot secret`: secrets written straight into the data directory, for when no qpilot can
/// run: the key was lost, or the head revision names a secret that is not set, so qpilot refuses
/// to start and `qctl secret set` has no server to talk to.
struct SecretCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secret",
        abstract: "Set or forget secrets in the data directory while qpilot is stopped.",
        discussion: "With qpilot running, use `qctl secret` instead.",
        subcommands: [Set.self, ForgetAll.self])

    struct Options: ParsableArguments {
        @Option(name: .long, help: "The qpilot.yaml whose dataDir holds the store.")
        var config: String = "qpilot.yaml"

        /// The data directory, locked against a running qpilot for as long as the lock lives.
        func lockedDataDirectory() throws -> (URL, DirectoryLock) {
            let directory = try OfflineDataDirectory.settings(
                config, sqliteOnly: ("`qpilot secret`", "use `qctl secret` against a running replica")
            ).dataDir
            return (directory, try OfflineDataDirectory.lock(directory, config: config, busyHint: "; with qpilot running, use `qctl secret`"))
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or replace a secret (sealed under the data directory's key).",
            discussion: "Example: qpilot secret set api-key --from-file key.txt --config /etc/qpilot/qpilot.yaml")

        @Argument(help: "The secret's name: 1 to 63 letters, digits, '-', '_' or '.'.")
        var name: String

        @Option(help: "A file holding the value (one trailing newline is dropped); - reads standard input.")
        var fromFile: String?

        @Option(help: "The value itself (it stays in your shell history; prefer --from-file).")
        var fromLiteral: String?

        @OptionGroup var options: Options

        func validate() throws {
            guard (fromFile == nil) != (fromLiteral == nil) else { throw ValidationError("pass --from-file or --from-literal (one of them)") }
        }

        func run() async throws {
            var value = fromLiteral ?? ""
            if let fromFile {
                let data = fromFile == "-" ? FileHandle.standardInput.readDataToEndOfFile() : FileManager.default.contents(atPath: fromFile)
                guard let data, let text = String(data: data, encoding: .utf8) else {
                    throw ValidationError("cannot read \(fromFile) as UTF-8 text")
                }
                value = text.hasSuffix("\n") ? String(text.dropLast()) : text
            }
            guard !value.isEmpty else { throw ValidationError("a secret's value must not be empty") }
            let (directory, lock) = try options.lockedDataDirectory()
            defer { withExtendedLifetime(lock) {} }
            do {
                try await SQLiteStateStore(directory: directory).setSecret(name: name, value: value, author: "qpilot secret set")
            } catch {
                FileHandle.standardError.write(Data("qpilot: cannot set the secret: \(error)\n".utf8))
                throw ExitCode(1)
            }
            print("secret \(name) set in \(directory.path)")
        }
    }

    struct ForgetAll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "forget-all",
            abstract: "Delete every secret and the secrets key, when the key is lost for good.",
            discussion: """
                Revisions, rollout records and modules stay. The next start makes a new key; set each \
                secret the chain refers to again with `qpilot secret set` before it.
                """)

        @Flag(help: "Confirm: the secrets cannot be recovered afterwards.")
        var yes = false

        @OptionGroup var options: Options

        func validate() throws {
            guard yes else { throw ValidationError("this deletes every secret for good; pass --yes to confirm") }
        }

        func run() async throws {
            let (directory, lock) = try options.lockedDataDirectory()
            defer { withExtendedLifetime(lock) {} }
            let count: Int
            do {
                count = try SQLiteStateStore.forgetSecrets(in: directory)
            } catch {
                FileHandle.standardError.write(Data("qpilot: cannot forget the secrets: \(error)\n".utf8))
                throw ExitCode(1)
            }
            print("deleted \(count) secret\(count == 1 ? "" : "s") and the secrets key in \(directory.path); set them again with `qpilot secret set`")
        }
    }
}
