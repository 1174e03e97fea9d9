import Foundation

/// One qctl run: exit status, stdout and stderr apart (a secret must appear in neither).
struct QctlResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }

    /// stdout decoded as JSON (for `--output json`).
    func json<T: Decodable>(_ type: T.Type) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(T.self, from: Data(stdout.utf8))
    }
}

/// Runs the built qctl binary, as an operator would, killing it after `timeout`.
///
/// - Parameters:
///   - environment: added to the test's own environment (less QCTL_*), or, when
///     `inheritEnvironment` is false, the whole environment.
///   - stdin: what qctl reads on standard input; nothing when nil.
func runQctl(
    _ arguments: [String], environment: [String: String] = [:], inheritEnvironment: Bool = true, stdin: String? = nil,
    timeout: TimeInterval = 60
) throws -> QctlResult {
    try runQctlConcurrently(
        [arguments], environment: environment, inheritEnvironment: inheritEnvironment, stdin: stdin, timeout: timeout)[0]
}

/// Starts one qctl process per argument list at once, then waits for all of them: separate
/// processes racing, as separate operators would.
func runQctlConcurrently(
    _ runs: [[String]], environment: [String: String] = [:], inheritEnvironment: Bool = true, stdin: String? = nil,
    timeout: TimeInterval = 60, executable: URL = Paths.repository.appendingPathComponent(".build/debug/qctl")
) throws -> [QctlResult] {
    var env: [String: String] = [:]
    if inheritEnvironment {
        env = ProcessInfo.processInfo.environment
        env["QCTL_SERVER"] = nil
        env["QCTL_TOKEN"] = nil
    }
    for (key, value) in environment { env[key] = value }
    let directory = FileManager.default.temporaryDirectory
    var started: [(process: Process, out: URL, err: URL)] = []
    defer {
        for run in started {
            if run.process.isRunning { kill(run.process.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(at: run.out)
            try? FileManager.default.removeItem(at: run.err)
        }
    }
    for arguments in runs {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = env
        let outURL = directory.appendingPathComponent("qctl-out-\(UUID().uuidString)")
        let errURL = directory.appendingPathComponent("qctl-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        if let stdin {
            let input = Pipe()
            process.standardInput = input
            try process.run()
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        started.append((process, outURL, errURL))
    }
    let deadline = Date().addingTimeInterval(timeout)
    while started.contains(where: { $0.process.isRunning }), Date() < deadline { usleep(20_000) }
    if let stuck = started.firstIndex(where: { $0.process.isRunning }) {
        throw HarnessError.timeout("\(executable.lastPathComponent) \(runs[stuck].joined(separator: " ")) after \(Int(timeout)) s")
    }
    return started.map { run in
        run.process.waitUntilExit()
        return QctlResult(
            status: run.process.terminationStatus,
            stdout: (try? String(contentsOf: run.out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: run.err, encoding: .utf8)) ?? "")
    }
}

/// Runs another command-line tool (the qpilot binary, a Python script) the same way.
func runTool(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> QctlResult {
    try runQctlConcurrently([arguments], timeout: timeout, executable: URL(fileURLWithPath: executable))[0]
}
