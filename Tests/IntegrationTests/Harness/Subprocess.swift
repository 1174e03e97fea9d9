import Foundation

/// A child process whose output goes to a log file, stopped with SIGTERM.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let logURL: URL

    init(_ executable: String, _ arguments: [String], log: URL) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw HarnessError.missing("\(executable) (run `make test`, which installs it)")
        }
        logURL = log
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// SIGTERM, then SIGKILL after `grace`. The test process may have inherited or set an ignored
    /// SIGTERM/SIGHUP (ServiceLifecycle traps signals that way), and children inherit ignored
    /// signals, so SIGTERM alone is not enough.
    func stop(grace: TimeInterval = 2) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }
}

/// Result of one curl run.
struct HTTPResult {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> [String] {
        headers.filter { $0.0 == name.lowercased() }.map(\.1)
    }
}

/// Runs curl; tests speak HTTP the way an operator would. With `namespace`, curl runs inside
/// that network namespace (`ip netns exec`), where the namespace's hosts file names the hosts.
func curl(_ arguments: [String], timeout: Int = 10, namespace: String? = nil) throws -> HTTPResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    let headerFile = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: headerFile) }
    let output = arguments.contains("-o") ? [] : ["-o", "-"]
    process.arguments =
        (namespace.map { ["ip", "netns", "exec", $0] } ?? []) + ["curl", "-sS", "--max-time", String(timeout), "-D", headerFile.path]
        + output + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try process.run()
    let body = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw HarnessError.failed("curl \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
    }
    let rawHeaders = (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""
    // With -p (CONNECT) there are two header blocks; the last one is the response.
    let blocks = rawHeaders.components(separatedBy: "\r\n\r\n").filter { !$0.isEmpty }
    let lines = (blocks.last ?? "").components(separatedBy: "\r\n")
    let status = lines.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
    let headers = lines.dropFirst().compactMap { line -> (String, String)? in
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
    return HTTPResult(status: status, headers: headers, body: String(decoding: body, as: UTF8.self))
}
