import ArgumentParser
import Foundation
import QpilotServer

/// `qpilot ca export`: qpilot's CA certificate, with qpilot stopped or running.
struct CACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca",
        abstract: "qpilot's certificate authority.",
        subcommands: [Export.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print qpilot's CA certificate, PEM, from qpilot.yaml's settings and data directory.",
            discussion: """
                The CA is tls.caCertFile when qpilot.yaml names one, else <dataDir>/ca/ca.crt, which is \
                made (with its key, 0600) if qpilot has not made it yet. The key is never printed. With \
                qpilot running, `qctl ca export` gives the same certificate.

                Example: qpilot ca export --config /etc/qpilot/qpilot.yaml > qpilot-ca.pem
                """)

        @Option(name: .long, help: "The qpilot.yaml whose settings name the CA.")
        var config: String = "qpilot.yaml"

        func run() throws {
            let settings = try OfflineDataDirectory.settings(config)
            do {
                let (pem, created) = try settings.exportCertificateAuthority()
                if created {
                    FileHandle.standardError.write(Data("qpilot: made a new CA in \(settings.caDirectory.path)\n".utf8))
                }
                FileHandle.standardOutput.write(Data(pem.utf8))
            } catch {
                FileHandle.standardError.write(Data("qpilot: \(config): \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
