import ArgumentParser
import Foundation
import QpilotServer
import Store

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `qpilot rotate-key`: re-seals every stored secret under a new key and replaces
/// `<dataDir>/secrets.key`. Runs against the data directory while qpilot is stopped: a running
/// qpilot keeps the old key in memory and could not open what this seals.
struct RotateKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-key",
        abstract: "Re-encrypt every secret under a new key and replace <dataDir>/secrets.key.",
        discussion: """
            Stop qpilot first, and back up state.sqlite and secrets.key together. The rotation is \
            crash-safe: an interrupted one is finished or undone at the next start.
            """)

    @Option(name: .long, help: "The qpilot.yaml whose dataDir holds the store.")
    var config: String = "qpilot.yaml"

    @Flag(help: "Rotate even though something answers on admin.address (it must not be a qpilot using this dataDir).")
    var force = false

    func run() async throws {
        let settings = try OfflineDataDirectory.settings(
            config,
            sqliteOnly: (
                "`qpilot rotate-key`",
                "rotating the key of a shared store is not supported yet: every replica's secrets.key would have to change at once"
            ))
        // A running qpilot keeps sealing with the old key, and would then refuse to start.
        if !force, Self.isListening(settings.admin.address) {
            FileHandle.standardError.write(
                Data(
                    "qpilot: something answers on admin.address \(settings.admin.address); stop qpilot first (or pass --force if that is not qpilot on this dataDir)\n"
                        .utf8))
            throw ExitCode(1)
        }
        let directory = settings.dataDir
        // The same lock `qpilot serve` holds: a qpilot on this directory, whatever its ports, stops it.
        let lock = try OfflineDataDirectory.lock(directory, config: config)
        defer { withExtendedLifetime(lock) {} }
        do {
            let store = try SQLiteStateStore(directory: directory)
            try await store.rotateKey()
            let count = try await store.secrets().count
            print("rotated the secrets key in \(SQLiteStateStore.keyFileURL(in: directory).path); \(count) secret\(count == 1 ? "" : "s") re-encrypted")
        } catch {
            FileHandle.standardError.write(Data("qpilot: cannot rotate the secrets key: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// True when a TCP connection to `address` succeeds.
    static func isListening(_ address: HostPort) -> Bool {
        var hints = addrinfo()
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(address.host, String(address.port), &hints, &results) == 0, let first = results else { return false }
        defer { freeaddrinfo(first) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry?.pointee {
            let fd = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
            if fd >= 0 {
                defer { close(fd) }
                if connect(fd, info.ai_addr, info.ai_addrlen) == 0 { return true }
            }
            entry = info.ai_next
        }
        return false
    }
}
