/// One HTTP exchange passing through a middleware (a Proxy-Wasm HTTP context).
///
/// Envoy calls the steps in order; each returns ``Action/continue`` or ``Action/pause``:
///
/// 1. ``onRequestHeaders(headerCount:endOfStream:)``
/// 2. ``onRequestBody(bodySize:endOfStream:)``, once per chunk
/// 3. ``onRequestTrailers(trailerCount:)``
/// 4. ``onResponseHeaders(headerCount:endOfStream:)``
/// 5. ``onResponseBody(bodySize:endOfStream:)``, once per chunk
/// 6. ``onResponseTrailers(trailerCount:)``
/// 7. ``onDone()``, when the exchange is complete
///
/// Steps without a body or trailers are skipped. To work on a whole body, continue the headers
/// and pause each body chunk until `endOfStream` is true: the last call then sees the full body
/// in ``requestBody`` or ``responseBody``. Pausing the headers instead stops the body too, until
/// the module resumes the stream (see ``Action/pause``).
open class HTTPContext {
    /// The host's id for this exchange; set by the SDK right after creation.
    public internal(set) var contextID: UInt32 = 0
    /// The id of the root context that created this exchange.
    public internal(set) var rootContextID: UInt32 = 0

    /// Creates the context. Host calls are allowed in the steps, not here.
    public init() {}

    // MARK: Steps

    /// The request headers arrived. `endOfStream` is true when the request has no body.
    open func onRequestHeaders(headerCount: Int, endOfStream: Bool) -> Action { .continue }

    /// A request body chunk arrived (or, after earlier pauses, the body buffered so far):
    /// `bodySize` bytes, readable in ``requestBody``.
    open func onRequestBody(bodySize: Int, endOfStream: Bool) -> Action { .continue }

    /// The request trailers arrived; the request is complete.
    open func onRequestTrailers(trailerCount: Int) -> Action { .continue }

    /// The response headers arrived. `endOfStream` is true when the response has no body.
    open func onResponseHeaders(headerCount: Int, endOfStream: Bool) -> Action { .continue }

    /// A response body chunk arrived; see ``onRequestBody(bodySize:endOfStream:)``.
    open func onResponseBody(bodySize: Int, endOfStream: Bool) -> Action { .continue }

    /// The response trailers arrived; the response is complete.
    open func onResponseTrailers(trailerCount: Int) -> Action { .continue }

    /// The exchange is complete (or was reset). Response code, flags and duration are known
    /// now; read them from ``Properties``. Headers and bodies can no longer be changed.
    open func onDone() {}

    // MARK: The exchange

    /// The request headers; writable while the request has not been sent on.
    public var requestHeaders: HeaderMap { .requestHeaders }
    /// The request trailers.
    public var requestTrailers: HeaderMap { .requestTrailers }
    /// The response headers; writable while the response has not been sent on.
    public var responseHeaders: HeaderMap { .responseHeaders }
    /// The response trailers.
    public var responseTrailers: HeaderMap { .responseTrailers }
    /// The request body, in request body steps.
    public var requestBody: BodyBuffer { .requestBody }
    /// The response body, in response body steps.
    public var responseBody: BodyBuffer { .responseBody }

    /// Resumes a request paused by an earlier step, typically from a callout's response
    /// handler.
    @discardableResult
    public func resumeRequest() -> HostStatus {
        withEffectiveContext(contextID) { HostStatus(rawValue: proxy_continue_stream(0)) }
    }

    /// Resumes a response paused by an earlier step.
    @discardableResult
    public func resumeResponse() -> HostStatus {
        withEffectiveContext(contextID) { HostStatus(rawValue: proxy_continue_stream(1)) }
    }

    /// Answers the request from the middleware instead of the upstream, and returns
    /// ``Action/pause`` so that a step can end with `return sendLocalResponse(...)`.
    ///
    /// - Parameters:
    ///   - status: the HTTP status, for example 403.
    ///   - body: the response body.
    ///   - headers: extra response headers, for example `content-type`.
    ///   - details: a short reason without spaces for Envoy's `%RESPONSE_CODE_DETAILS%`
    ///     (spaces become underscores).
    @discardableResult
    public func sendLocalResponse(
        status: Int, body: [UInt8] = [], headers: [HeaderPair] = [], details: String = ""
    ) -> Action {
        let encodedHeaders = SerializedPairs.encode(headers)
        let detailBytes = Array(details.utf8).map { $0 == UInt8(ascii: " ") ? UInt8(ascii: "_") : $0 }
        let status = withEffectiveContext(contextID) {
            detailBytes.withBytes { detailsData, detailsSize in
                body.withBytes { bodyData, bodySize in
                    encodedHeaders.withBytes { headersData, headersSize in
                        proxy_send_local_response(
                            UInt32(truncatingIfNeeded: status), detailsData, detailsSize, bodyData, bodySize,
                            headersData, headersSize, -1)
                    }
                }
            }
        }
        if status != 0 {
            Log.warn("proxy_send_local_response failed: \(HostStatus(rawValue: status).name)")
        }
        return .pause
    }

    /// ``sendLocalResponse(status:body:headers:details:)`` with a text body.
    @discardableResult
    public func sendLocalResponse(
        status: Int, body: String, headers: [HeaderPair] = [], details: String = ""
    ) -> Action {
        sendLocalResponse(status: status, body: Array(body.utf8), headers: headers, details: details)
    }
}

/// The context Envoy gets when a root context makes none: it lets everything through.
final class PassThroughHTTPContext: HTTPContext {}
