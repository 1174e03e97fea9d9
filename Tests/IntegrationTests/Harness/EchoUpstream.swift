import Foundation

/// A real HTTP upstream on loopback (scripts/echo-upstream.py): it answers every request with the
/// request it saw, and lists all requests at /__requests.
final class EchoUpstream: @unchecked Sendable {
    let child: ChildProcess
    let port: Int

    struct SeenRequest: Decodable {
        var method: String
        var path: String
        var headers: [[String]]
        var body: String

        func header(_ name: String) -> [String] { headers.filter { $0.first == name }.map { $0[1] } }
    }

    init(directory: URL) async throws {
        port = try freePort()
        child = try ChildProcess(
            "/usr/bin/python3", [Paths.echoUpstream.path, "127.0.0.1", String(port)],
            log: directory.appendingPathComponent("upstream.log"))
        let port = self.port
        try await eventually("the echo upstream on \(port)") {
            (try? curl(["http://127.0.0.1:\(port)/__requests"]))?.status == 200
        }
    }

    var authority: String { "127.0.0.1:\(port)" }

    func requests() throws -> [SeenRequest] {
        let result = try curl(["http://127.0.0.1:\(port)/__requests"])
        return try JSONDecoder().decode([SeenRequest].self, from: Data(result.body.utf8))
    }

    func stop() { child.stop(grace: 0) }
}
