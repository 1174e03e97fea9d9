import ArgumentParser
import Foundation
import QpilotServer
import Store

/// The data directory for commands that work on it while qpilot is stopped (`rotate-key`,
/// `secret`): read from qpilot.yaml, checked to hold a store, and locked as `qpilot serve` locks
/// it, so that neither runs beside a qpilot on the same directory.
enum OfflineDataDirectory {
    /// The server settings of `config`; a file that cannot be used exits with 2. A command that
    /// works on the SQLite store only (`sqliteOnly` names it and what to use instead) exits with
    /// 2 when the config names a PostgreSQL store.
    static func settings(_ config: String, sqliteOnly: (command: String, instead: String)? = nil) throws -> ServerSettings {
        let settings: ServerSettings
        do {
            settings = try QpilotConfig.load(URL(fileURLWithPath: config).standardizedFileURL).config.server
        } catch {
            FileHandle.standardError.write(Data("qpilot: \(config): \(error)\n".utf8))
            throw ExitCode(2)
        }
        if let sqliteOnly, let store = settings.store {
            let location = (try? PostgresLocation(url: store.url))?.description ?? "a PostgreSQL database"
            FileHandle.standardError.write(
                Data(
                    "qpilot: \(sqliteOnly.command) works on the SQLite store in dataDir, but \(config) keeps the state in \(location); \(sqliteOnly.instead)\n"
                        .utf8))
            throw ExitCode(2)
        }
        return settings
    }

    /// The lock on `directory`, held for as long as the value lives. A directory without a store
    /// exits with 2 (opening would create an empty one, hiding a mistyped dataDir); a directory in
    /// use exits with 1, with `busyHint` after the reason.
    static func lock(_ directory: URL, config: String, busyHint: String = "") throws -> DirectoryLock {
        guard FileManager.default.fileExists(atPath: SQLiteStateStore.databaseURL(in: directory).path) else {
            FileHandle.standardError.write(Data("qpilot: no state database in \(directory.path); check dataDir in \(config)\n".utf8))
            throw ExitCode(2)
        }
        do {
            return try DirectoryLock(directory: directory)
        } catch {
            FileHandle.standardError.write(Data("qpilot: \(error)\(busyHint)\n".utf8))
            throw ExitCode(1)
        }
    }
}
