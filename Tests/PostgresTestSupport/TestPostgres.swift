import Foundation
import Synchronization

/// A PostgreSQL server of the test process's own, from the machine's PostgreSQL (Debian's
/// `postgresql`, which `make deps` installs): `initdb` into a temporary directory, started on a
/// free 127.0.0.1 port with password (SCRAM) authentication, one fresh database per test.
///
/// It is started once per test process, on first use, and stopped when the process ends: a
/// watchdog process waits for this one to exit (even by a crash) and then stops the server and
/// removes its directory, so no test run leaves a PostgreSQL behind. PostgreSQL refuses to run
/// as root; when the tests run as root, the server runs as the `postgres` user the Debian package
/// creates.
///
/// There is no fallback and no skip: a machine without PostgreSQL fails these tests with a
/// message that says how to install it.
public final class TestPostgres: Sendable {
    public let host = "127.0.0.1"
    /// The port; chosen again if another process took it between the choice and the start.
    public var port: Int { portChoice.withLock { $0 } }
    private let portChoice: Mutex<Int>
    public let user = "qpilot"
    public let password: String
    /// A file holding the password, as qpilot's `store.passwordFile` reads it.
    public let passwordFile: URL
    /// The cluster's directory (data, log, socket).
    public let directory: URL
    let binaries: URL
    let runAs: String?
    private let server = Mutex<Process?>(nil)

    /// The start, begun by the first caller. It runs on a thread of its own: initdb takes seconds
    /// (more on a loaded machine), and a test that blocked the cooperative pool that long would
    /// stall every other test in the process.
    private static let starting = Mutex<Task<TestPostgres, any Error>?>(nil)

    /// The server, started on first use.
    public static func shared() async throws -> TestPostgres {
        let task = starting.withLock { task in
            if let task { return task }
            let started = Task { try await onOwnThread { try TestPostgres() } }
            task = started
            return started
        }
        return try await task.value
    }

    private init() throws {
        binaries = try Self.findBinaries()
        portChoice = Mutex(try Self.freePort())
        runAs = geteuid() == 0 ? "postgres" : nil
        directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "qpilot-test-postgres-\(UUID().uuidString.prefix(8))", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        password = UUID().uuidString
        passwordFile = directory.appendingPathComponent("password")
        try Data((password + "\n").utf8).write(to: passwordFile)
        if let runAs {
            guard let account = getpwnam(runAs) else {
                throw TestPostgresError(
                    "the tests run as root and PostgreSQL refuses root, but there is no '\(runAs)' user; install Debian's postgresql package (make deps)")
            }
            for path in [directory.path, passwordFile.path] { chown(path, account.pointee.pw_uid, account.pointee.pw_gid) }
        }
        chmod(passwordFile.path, 0o600)
        try watchdog()
        let data = directory.appendingPathComponent("data").path
        try run(
            "initdb", ["-D", data, "-U", user, "--pwfile=\(passwordFile.path)", "--auth-host=scram-sha-256", "--auth-local=trust",
                "-E", "UTF8", "--no-sync"])
        for attempt in 1...3 {
            do {
                try startNow()
                break
            } catch let error as TestPostgresError where attempt < 3 && error.description.contains("could not bind") {
                portChoice.withLock { $0 = (try? Self.freePort()) ?? $0 }
            }
        }
    }

    /// `postgres://user@127.0.0.1:port/database`, without the password (give `passwordFile`).
    public func url(database: String) -> String {
        "postgres://\(user)@\(host):\(port)/\(database)"
    }

    /// Creates an empty database with a new name and returns the name.
    public func createDatabase(prefix: String = "test") async throws -> String {
        let name = "\(prefix)_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        try await psql("CREATE DATABASE \(name)")
        return name
    }

    /// Runs SQL as the server's superuser, in the `postgres` database or `database`; returns what
    /// it printed, unaligned and without headers (`-tA`).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await onOwnThread { try self.psqlNow(sql, database: database) }
    }

    private func psqlNow(_ sql: String, database: String) throws -> String {
        let process = Process()
        process.executableURL = binaries.appendingPathComponent("psql")
        process.arguments = [
            "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", "\(port)", "-U", user, "-d", database, "-c", sql,
        ]
        process.environment = ProcessInfo.processInfo.environment.merging(["PGPASSWORD": password]) { $1 }
        let (status, output) = try LocalProcess.runToEnd(process)
        guard status == 0 else { throw TestPostgresError("psql -c \(sql) exited with \(status): \(output)") }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Stops the server (fast shutdown) and waits for it to exit; `start()` brings it back on the
    /// same port with the same data.
    public func stop() async throws {
        try await onOwnThread { try self.stopNow() }
    }

    private func stopNow() throws {
        guard let process = server.withLock({ $0 }) else { return }
        kill(process.processIdentifier, SIGINT)
        for _ in 0..<600 where process.isRunning { usleep(50_000) }
        guard !process.isRunning else { throw TestPostgresError("PostgreSQL did not stop within 30 s") }
        server.withLock { $0 = nil }
    }

    /// Starts the server as a child of this process (`pg_ctl start` would leave a daemon holding
    /// the descriptor Foundation watches to see its child exit) and waits until it accepts
    /// connections.
    public func start() async throws {
        try await onOwnThread { try self.startNow() }
    }

    private func startNow() throws {
        let data = directory.appendingPathComponent("data").path
        let log = directory.appendingPathComponent("log")
        if !FileManager.default.fileExists(atPath: log.path) { FileManager.default.createFile(atPath: log.path, contents: nil) }
        let output = try FileHandle(forWritingTo: log)
        output.seekToEndOfFile()
        let process = command(
            "postgres",
            [
                "-D", data, "-h", host, "-p", "\(port)", "-k", directory.path, "-c", "fsync=off", "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off", "-c", "max_connections=300",
            ])
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? output.close()
        server.withLock { $0 = process }
        for _ in 0..<600 {
            guard process.isRunning else {
                throw TestPostgresError("PostgreSQL exited at start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
            }
            if (try? run("pg_isready", ["-q", "-h", host, "-p", "\(port)"])) != nil { return }
            usleep(100_000)
        }
        throw TestPostgresError("PostgreSQL did not accept connections within 60 s")
    }

    // MARK: Processes

    /// Runs a PostgreSQL program, as `postgres` when this process is root.
    private func run(_ program: String, _ arguments: [String]) throws {
        try Self.runToEnd(command(program, arguments), what: "\(program) \(arguments.joined(separator: " "))")
    }

    /// A PostgreSQL program, as `postgres` when this process is root (setpriv execs it in place,
    /// so the process is the program itself).
    private func command(_ program: String, _ arguments: [String]) -> Process {
        let process = Process()
        let path = binaries.appendingPathComponent(program).path
        if let runAs {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            process.arguments = ["--reuid=\(runAs)", "--regid=\(runAs)", "--init-groups", "--", path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
        }
        process.currentDirectoryURL = directory
        return process
    }

    /// A shell that waits for this process to end, then stops the server and removes its files.
    private func watchdog() throws {
        let pidFile = directory.appendingPathComponent("data/postmaster.pid").path
        let script = """
            while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done
            pid=$(head -n 1 '\(pidFile)' 2>/dev/null)
            if [ -n "$pid" ]; then kill -QUIT "$pid" 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 1; done; fi
            rm -rf '\(directory.path)'
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// The newest `/usr/lib/postgresql/N/bin` with initdb, or the directory of `initdb` on PATH.
    static func findBinaries() throws -> URL {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() {
            let bin = root.appendingPathComponent("\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("initdb").path) { return bin }
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let initdb = URL(fileURLWithPath: String(directory)).appendingPathComponent("initdb")
            if FileManager.default.isExecutableFile(atPath: initdb.path) { return initdb.resolvingSymlinksInPath().deletingLastPathComponent() }
        }
        throw TestPostgresError("PostgreSQL is not installed (no initdb): run `make deps`, or `apt-get install postgresql`")
    }

    public static func freePort() throws -> Int { try LocalProcess.freePort() }

    private static func runToEnd(_ process: Process, what: String) throws {
        let (status, output) = try LocalProcess.runToEnd(process)
        guard status == 0 else { throw TestPostgresError("\(what) exited with \(status): \(output)") }
    }
}

/// Runs blocking work (a child process, a wait) on a thread of its own, not on the cooperative pool.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// Helpers for tests that run local programs and servers.
public enum LocalProcess {
    /// Runs `process` to its end: its status and everything it printed. The output goes to a file,
    /// not a pipe, which a daemon it left behind would hold open.
    public static func runToEnd(_ process: Process) throws -> (status: Int32, output: String) {
        let outputURL = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("qpilot-run-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "")
    }

    /// Connects the TCP socket `fd` to 127.0.0.1:`port`; true when it connected.
    public static func connectLoopback(_ fd: Int32, port: Int) -> Bool {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// A port that was free a moment ago on 127.0.0.1.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw TestPostgresError("no free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

public struct TestPostgresError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
