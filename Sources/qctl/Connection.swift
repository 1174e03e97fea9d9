import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import QpilotAPI

/// How qctl reaches qpilot's admin API: flags, else QCTL_SERVER / QCTL_TOKEN, else the context file.
struct ConnectionOptions: ParsableArguments {
    static let defaultServer = "http://127.0.0.1:18001"

    @Option(
        help: ArgumentHelp(
            "The admin API URL. Default: $QCTL_SERVER, else server: in the context file, else \(Self.defaultServer).",
            valueName: "url"))
    var server: String?

    @Option(
        help: ArgumentHelp(
            "A file whose first token is used (qpilot's tokens file works). Default: $QCTL_TOKEN, else tokenFile: in the context file.",
            valueName: "file"))
    var tokenFile: String?

    func validate() throws {
        if let server { try Self.checkURL(server, from: "--server") }
    }

    static func checkURL(_ url: String, from origin: String) throws(ValidationError) {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw ValidationError("\(origin) must be an http:// or https:// URL, such as \(defaultServer); got '\(url)'")
        }
    }

    /// Resolves the server and token, reading the context file only when a flag or variable is missing.
    func connect() throws -> Connection {
        let environment = ProcessInfo.processInfo.environment
        var context: ContextFile?
        func loadContext() throws -> ContextFile? {
            if context == nil { context = try ContextFile.load() }
            return context
        }

        var url: String
        var origin: String
        if let server {
            (url, origin) = (server, "--server")
        } else if let value = environment["QCTL_SERVER"], !value.isEmpty {
            (url, origin) = (value, "$QCTL_SERVER")
        } else if let file = try loadContext(), let value = file.server {
            (url, origin) = (value, file.path)
        } else {
            (url, origin) = (Self.defaultServer, "the default")
        }
        do {
            try Self.checkURL(url, from: origin)
        } catch {
            throw QctlError(error.message)
        }
        while url.hasSuffix("/") { url.removeLast() }

        let token: String
        if let tokenFile {
            token = try Self.firstToken(in: tokenFile, from: "--token-file")
        } else if let value = environment["QCTL_TOKEN"], !value.isEmpty {
            token = value
        } else if let file = try loadContext(), let path = file.tokenFile {
            token = try Self.firstToken(in: path, from: "tokenFile in \(file.path)")
        } else {
            throw QctlError(
                "no token: pass --token-file (qpilot prints where it created one), set QCTL_TOKEN, or put tokenFile: in \(ContextFile.location())"
            )
        }
        return Connection(server: url, token: token, actor: Self.actor())
    }

    /// The first token on a line that is not a comment; qpilot's own tokens file works as is.
    static func firstToken(in path: String, from origin: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw QctlError("cannot read \(path) (\(origin))")
        }
        let first = text.split(separator: "\n")
            .map { $0.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "" }
            .compactMap { $0.split(whereSeparator: \.isWhitespace).first }.first
        guard let first else { throw QctlError("\(path) holds no token (\(origin))") }
        return String(first)
    }

    /// `user@host`, recorded by qpilot in the history next to the token's fingerprint.
    static func actor() -> String {
        let environment = ProcessInfo.processInfo.environment
        let user = environment["USER"] ?? environment["LOGNAME"]
            ?? getpwuid(getuid()).flatMap { String(validatingCString: $0.pointee.pw_name) } ?? "uid \(getuid())"
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0
            ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        return "\(user)@\(host)"
    }
}

/// A resolved admin API endpoint and the calls qctl makes to it.
struct Connection: Sendable {
    let server: String
    let token: String
    let actor: String

    /// HTTPClient.shared retries a refused connection until the request's deadline; an operator at a
    /// prompt wants "cannot reach" at once. Never shut down: it lives as long as the process.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// One answer: the status and the body, already checked to be a 2xx.
    struct Answer {
        var status: Int
        var body: Data
    }

    /// GETs `path` and decodes the answer.
    func get<T: Decodable>(_ path: String, as type: T.Type) async throws -> T {
        try decode(type, from: try await call(.GET, path))
    }

    /// Sends a write (PUT, POST) with a JSON body and an optional `If-Match`.
    func send(_ method: HTTPMethod, _ path: String, body: some Encodable, ifMatch: Int? = nil) async throws -> Answer {
        try await call(method, path, body: try APIJSON.encoder().encode(body), ifMatch: ifMatch)
    }

    func decode<T: Decodable>(_ type: T.Type, from answer: Answer) throws -> T {
        do {
            return try APIJSON.decoder().decode(type, from: answer.body)
        } catch {
            // A qpilot older or newer than this qctl; say which side to update rather than dump a DecodingError.
            throw QctlError("qpilot's answer is not the \(type) this qctl expects (\(DecodingProblem.describe(error)))")
        }
    }

    /// How long qctl waits for a write's answer: longer than qpilot's whole-write budget (110 s).
    static let writeTimeout = TimeAmount.seconds(120)

    /// Makes one request; a non-2xx answer becomes an `APIError`, a network failure a `QctlError` naming the server.
    func call(_ method: HTTPMethod, _ path: String, body: Data? = nil, ifMatch: Int? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: server + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "Accept", value: "application/json")
        if method != .GET { request.headers.add(name: "X-Qpilot-Actor", value: actor) }
        if let ifMatch { request.headers.add(name: "If-Match", value: "\"\(ifMatch)\"") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        let data: Data
        do {
            // A write may first fetch its module; qpilot gives up on it (and changes nothing) before
            // `writeTimeout`, so qctl never leaves a write that commits after it stopped waiting.
            response = try await Self.client.execute(request, timeout: method == .GET ? .seconds(30) : Self.writeTimeout)
            data = Data(try await response.body.collect(upTo: 64 * 1024 * 1024).readableBytesView)
        } catch {
            throw QctlError("cannot reach qpilot at \(server): \(error)")
        }
        guard (200..<300).contains(response.status.code) else {
            throw APIError(status: Int(response.status.code), body: try? APIJSON.decoder().decode(APIErrorBody.self, from: data))
        }
        return Answer(status: Int(response.status.code), body: data)
    }

    /// One path segment, escaped: names may hold characters that mean something in a URL.
    static func segment(_ text: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#%")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    /// A query parameter value, escaped.
    static func query(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
