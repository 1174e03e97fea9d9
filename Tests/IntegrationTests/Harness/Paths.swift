import Foundation

/// Where the real parts live. `make test` sets the environment; a plain `swift test` falls back
/// to the paths `make` would use.
enum Paths {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var envoy: String {
        ProcessInfo.processInfo.environment["QPILOT_ENVOY"] ?? repository.appendingPathComponent(".venv/bin/envoy").path
    }

    static var wasmDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["QPILOT_WASM_DIR"] { return URL(fileURLWithPath: dir) }
        return repository.appendingPathComponent(".build-wasm")
    }

    static func wasm(_ name: String) -> URL { wasmDirectory.appendingPathComponent("\(name).wasm") }

    static let echoUpstream = repository.appendingPathComponent("scripts/echo-upstream.py")

    /// Modules from other projects, kept outside the repository (see ../shared/testdata/wasm/README.md).
    static let sharedTestdata = repository.deletingLastPathComponent().appendingPathComponent("shared/testdata/wasm")

    static var hasSharedTestdata: Bool {
        FileManager.default.fileExists(atPath: sharedTestdata.appendingPathComponent("go-sdk-http-headers.wasm").path)
    }
}

enum HarnessError: Error, CustomStringConvertible {
    case missing(String)
    case timeout(String)
    case failed(String)

    var description: String {
        switch self {
        case .missing(let what): "missing: \(what)"
        case .timeout(let what): "timed out waiting for \(what)"
        case .failed(let what): what
        }
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(
    _ what: String, timeout: Duration = .seconds(20), every interval: Duration = .milliseconds(100),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: interval)
    }
    if try await condition() { return }
    throw HarnessError.timeout(what)
}

/// A free TCP port on 127.0.0.1, found by binding port 0.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError.failed("socket() failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw HarnessError.failed("bind() failed") }
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw HarnessError.failed("getsockname() failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}
