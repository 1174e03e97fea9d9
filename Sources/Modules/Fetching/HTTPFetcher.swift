import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP GET with the protections every module fetch needs: a size cap while streaming, a
/// deadline, redirects checked hop by hop against the address policy, and retries with backoff
/// for 5xx answers and connection errors.
struct HTTPFetcher: Sendable {
    struct Result: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        var url: URL
    }

    /// Progress of one download: bytes so far, and the total when the server said it.
    typealias Progress = @Sendable (_ received: Int, _ total: Int?) -> Void

    /// The client's settings. Redirects are followed by hand so that each hop is checked.
    static func configuration(pinning host: String, to address: String) -> HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(60)))
        // AHC would retry a refused connection until the request's deadline; our own retry loop
        // (with its backoff and its message) does that job, so a registry outage fails fast.
        configuration.connectionPool.retryConnectionEstablishment = false
        // Connect to the address the policy checked. The URL keeps its name, so the Host header,
        // the TLS server name and the certificate check still use the name.
        if host != address { configuration.dnsOverride = [host: address] }
        return configuration
    }

    let limits: FetchLimits

    /// GETs `url`. Non-2xx answers other than 5xx are returned for the caller to judge; 5xx and
    /// connection errors are retried, then reported with the last reason.
    func get(
        _ url: URL, headers: [(String, String)] = [], maxBytes: Int, progress: Progress? = nil
    ) async throws(ModuleError) -> Result {
        var lastProblem = ""
        var delay = limits.backoff
        for attempt in 1...max(1, limits.attempts) {
            do {
                let result = try await followRedirects(url, headers: headers, maxBytes: maxBytes, progress: progress)
                if result.status >= 500 {
                    lastProblem = "\(result.url.absoluteString) answered HTTP \(result.status)"
                } else {
                    return result
                }
            } catch let error as ModuleError {
                throw error
            } catch {
                lastProblem = "\(url.absoluteString): \(Self.describe(error))"
            }
            if attempt < limits.attempts {
                try? await Task.sleep(for: delay)
                delay *= 2
            }
        }
        throw ModuleError("gave up after \(limits.attempts) attempts: \(lastProblem)")
    }

    private func followRedirects(
        _ start: URL, headers: [(String, String)], maxBytes: Int, progress: Progress?
    ) async throws -> Result {
        var url = start
        for _ in 0..<10 {
            guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = url.host else {
                throw ModuleError("\(url.absoluteString): only http and https URLs can be fetched")
            }
            let address = try await AddressPolicy.check(host: host, limits: limits)
            var request = HTTPClientRequest(url: url.absoluteString)
            // Authorization is not carried to another host on a redirect, nor from https to plain http.
            let downgraded = start.scheme?.lowercased() == "https" && scheme == "http"
            for (name, value) in headers where !(name.lowercased() == "authorization" && (url.host != start.host || downgraded)) {
                request.headers.add(name: name, value: value)
            }
            // One client per hop, pinned to the checked address, shut down when the hop is done.
            let client = HTTPClient(
                eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                configuration: Self.configuration(pinning: host, to: address))
            do {
                let result = try await hop(client, request, url: url, maxBytes: maxBytes, progress: progress)
                try? await client.shutdown()
                switch result {
                case .redirect(let next): url = next
                case .done(let result): return result
                }
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
        throw ModuleError("\(start.absoluteString): too many redirects (more than 10)")
    }

    private enum Hop {
        case redirect(URL)
        case done(Result)
    }

    private func hop(
        _ client: HTTPClient, _ request: HTTPClientRequest, url: URL, maxBytes: Int, progress: Progress?
    ) async throws -> Hop {
        let response = try await client.execute(request, timeout: TimeAmount.nanoseconds(limits.timeout.nanoseconds))
        let status = Int(response.status.code)
        if (300..<400).contains(status), status != 304, let location = response.headers.first(name: "location") {
            guard let next = URL(string: location, relativeTo: url)?.absoluteURL else {
                throw ModuleError("\(url.absoluteString) redirected to an invalid location '\(location)'")
            }
            return .redirect(next)
        }
        let total = response.headers.first(name: "content-length").flatMap(Int.init)
        if let total, total > maxBytes, (200..<300).contains(status) {
            throw ModuleError(
                "\(url.absoluteString) is \(total) bytes, over the limit of \(maxBytes) bytes; raise the limit if this module is expected")
        }
        var body = Data()
        let started = ContinuousClock.now
        for try await chunk in response.body {
            body.append(contentsOf: chunk.readableBytesView)
            if body.count > maxBytes {
                throw ModuleError(
                    "\(url.absoluteString) sent more than the limit of \(maxBytes) bytes; raise the limit if this module is expected")
            }
            let seconds = Double((ContinuousClock.now - started).nanoseconds) / 1e9
            if seconds > Double(limits.timeout.nanoseconds) / 1e9, Double(body.count) < Double(limits.minimumBytesPerSecond) * seconds {
                throw ModuleError(
                    "\(url.absoluteString) sent \(body.count) bytes in \(Int(seconds)) s, slower than the minimum of \(limits.minimumBytesPerSecond) bytes a second; giving up on it")
            }
            progress?(body.count, total)
        }
        return .done(Result(status: status, headers: response.headers, body: body, url: url))
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "timed out"
            default: return "\(error)"
            }
        }
        return "\(error)"
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
