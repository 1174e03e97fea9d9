/// The response to an HTTP callout.
public struct HTTPCallResponse: Sendable {
    /// The response headers, `:status` included. Empty when the call failed (timeout, reset,
    /// no upstream).
    public let headers: [HeaderPair]
    /// The response body.
    public let body: [UInt8]
    /// The response trailers.
    public let trailers: [HeaderPair]

    /// Whether a response arrived at all.
    public var succeeded: Bool { !headers.isEmpty }

    /// The HTTP status, or nil when the call failed.
    public var status: Int? {
        guard let text = header(":status") else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// The first value of header `name` (lower case).
    public func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    /// The body decoded as UTF-8.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// HTTP callouts: requests a middleware sends on its own, answered asynchronously.
///
/// With qpilot, callouts go through the Envoy cluster `qpilot_callout`, which forwards to
/// whatever `:authority` the request names, through an internal listener that has its own
/// stats and access log and runs no middleware. Envoy issues a callout on behalf of the root
/// context; the SDK routes the answer back to the context that sent it (an HTTP exchange, if it
/// still exists) before calling the handler.
public enum HTTPCall {
    /// The cluster qpilot sets up for middleware callouts.
    public static let calloutCluster = "qpilot_callout"

    /// Sends `method url` and calls `onResponse` with the answer. Sets `:method`, `:path`,
    /// `:authority` and `:scheme` from the URL; `headers` adds to them.
    ///
    /// - Returns: the call's token.
    /// - Throws: ``HostError`` when the URL is not an absolute http(s) URL, or Envoy refuses
    ///   the call (for example an unknown cluster).
    @discardableResult
    public static func send(
        method: String,
        url: String,
        headers: [HeaderPair] = [],
        body: [UInt8] = [],
        cluster: String = calloutCluster,
        timeoutMilliseconds: UInt32 = 5000,
        onResponse: @escaping (HTTPCallResponse) -> Void
    ) throws(HostError) -> UInt32 {
        let target: CalloutURL
        switch CalloutURL.parse(url) {
        case .success(let parsed): target = parsed
        case .failure(let error): throw HostError(.badArgument, in: "HTTPCall.send", detail: error.message)
        }
        var allHeaders = [
            HeaderPair(":method", method),
            HeaderPair(":path", target.path),
            HeaderPair(":authority", target.authority),
            HeaderPair(":scheme", target.scheme),
        ]
        allHeaders.append(contentsOf: headers)
        return try dispatch(
            cluster: cluster, headers: allHeaders, body: body, timeoutMilliseconds: timeoutMilliseconds,
            onResponse: onResponse)
    }

    /// Sends a callout with headers you assemble yourself; they must include `:method`,
    /// `:path` and `:authority`.
    @discardableResult
    public static func dispatch(
        cluster: String = calloutCluster,
        headers: [HeaderPair],
        body: [UInt8] = [],
        trailers: [HeaderPair] = [],
        timeoutMilliseconds: UInt32 = 5000,
        onResponse: @escaping (HTTPCallResponse) -> Void
    ) throws(HostError) -> UInt32 {
        let encodedHeaders = SerializedPairs.encode(headers)
        let encodedTrailers = trailers.isEmpty ? [] : SerializedPairs.encode(trailers)
        var token: UInt32 = 0
        let status = cluster.withBytes { clusterData, clusterSize in
            encodedHeaders.withBytes { headersData, headersSize in
                body.withBytes { bodyData, bodySize in
                    encodedTrailers.withBytes { trailersData, trailersSize in
                        proxy_http_call(
                            clusterData, clusterSize, headersData, headersSize, bodyData, bodySize,
                            trailersData, trailersSize, timeoutMilliseconds, &token)
                    }
                }
            }
        }
        guard status == 0 else {
            let hostStatus = HostStatus(rawValue: status)
            let detail: String? =
                hostStatus == .badArgument
                ? "bad argument (are :method, :path and :authority set?)"
                : hostStatus == .internalFailure ? "internal failure (does cluster '\(cluster)' exist?)" : nil
            throw HostError(hostStatus, in: "proxy_http_call", detail: detail)
        }
        Runtime.pendingCalls[token] = PendingCall(contextID: Runtime.activeContextID, handler: onResponse)
        return token
    }
}

/// A callout waiting for its response, and the context that sent it.
struct PendingCall {
    let contextID: UInt32
    let handler: (HTTPCallResponse) -> Void
}
