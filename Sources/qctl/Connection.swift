import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import QpilotAPI

/// How qctl reaches qpilot's admin API: flags, else QCTL_SERVER / QCTL_TOKEN.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "The admin API, such as http://127.0.0.1:18001 (default: $QCTL_SERVER, else that).")
    var server: String?

    @Option(help: "A file whose first token is used (qpilot's tokens file works). Default: $QCTL_TOKEN.")
    var tokenFile: String?

    var serverURL: String {
        (server ?? ProcessInfo.processInfo.environment["QCTL_SERVER"] ?? "http://127.0.0.1:18001")
            .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    func token() throws -> String {
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
                throw ValidationError("cannot read --token-file \(tokenFile)")
            }
            // The first token on a line that is not a comment; qpilot's own tokens file works as is.
            let first = text.split(separator: "\n")
                .map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
                .compactMap { $0.split(whereSeparator: \.isWhitespace).first }.first
            guard let first else { throw ValidationError("\(tokenFile) holds no token") }
            return String(first)
        }
        if let token = ProcessInfo.processInfo.environment["QCTL_TOKEN"], !token.isEmpty { return token }
        throw ValidationError("no token: pass --token-file (qpilot prints where it created one) or set QCTL_TOKEN")
    }

    /// GETs `path` and decodes the answer; API errors become a message and exit code 1.
    func get<T: Decodable>(_ path: String, as: T.Type) async throws -> T {
        var request = HTTPClientRequest(url: serverURL + path)
        request.headers.add(name: "Authorization", value: "Bearer \(try token())")
        let response: HTTPClientResponse
        do {
            response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        } catch {
            throw QctlError("cannot reach qpilot at \(serverURL): \(error)")
        }
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        let data = Data(body.readableBytesView)
        guard (200..<300).contains(response.status.code) else {
            if let error = try? APIJSON.decoder().decode(APIErrorBody.self, from: data) {
                throw QctlError("qpilot: \(error.message) (HTTP \(response.status.code), \(error.code))")
            }
            throw QctlError("qpilot answered HTTP \(response.status.code)")
        }
        return try APIJSON.decoder().decode(T.self, from: data)
    }
}

/// An error qctl reports as one line on stderr, exiting 1.
struct QctlError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
