/// A body (or another host buffer) of the current HTTP exchange.
///
/// In a body step, the buffer holds the chunk Envoy just delivered or, when earlier body steps
/// returned ``Action/pause``, everything buffered so far. Envoy owns the bytes: `read` copies
/// them into the module, `withBytes` lends them without keeping a copy.
///
/// ```swift
/// let text = BodyBuffer.requestBody.readString()
/// BodyBuffer.requestBody.replace(with: text.uppercased())
/// ```
public struct BodyBuffer: Sendable {
    /// The Proxy-Wasm `proxy_buffer_type_t` value.
    public let bufferType: UInt32

    /// Names a buffer by its raw type.
    public init(bufferType: UInt32) {
        self.bufferType = bufferType
    }

    /// The request body.
    public static let requestBody = BodyBuffer(bufferType: 0)
    /// The response body.
    public static let responseBody = BodyBuffer(bufferType: 1)
    /// A callout response's body; readable inside the callout's response handler only.
    public static let httpCallResponseBody = BodyBuffer(bufferType: 4)
    /// The VM configuration (`vm_config.configuration`).
    public static let vmConfiguration = BodyBuffer(bufferType: 6)
    /// The plugin configuration (the filter's `configuration`).
    public static let pluginConfiguration = BodyBuffer(bufferType: 7)

    /// How many bytes the buffer holds now.
    public var size: Int {
        var length = 0
        var flags: UInt32 = 0
        guard proxy_get_buffer_status(bufferType, &length, &flags) == 0 else { return 0 }
        return length
    }

    /// Copies `count` bytes from `start` (all remaining bytes when `count` is nil).
    public func read(from start: Int = 0, count: Int? = nil) -> [UInt8] {
        withBytes(from: start, count: count) { [UInt8]($0) }
    }

    /// The bytes decoded as UTF-8 (invalid sequences become U+FFFD).
    public func readString(from start: Int = 0, count: Int? = nil) -> String {
        withBytes(from: start, count: count) { String(decoding: $0, as: UTF8.self) }
    }

    /// Lends the bytes to `body` and frees them afterwards, so nothing is kept.
    public func withBytes<R>(from start: Int = 0, count: Int? = nil, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let available = max(0, size - start)
        let length = min(count ?? available, available)
        if length == 0 {
            return body(UnsafeRawBufferPointer(start: nil, count: 0))
        }
        var result: R? = nil
        let outcome = withHostValue({ proxy_get_buffer_bytes(bufferType, start, length, $0, $1) }) { bytes in
            result = body(bytes)
        }
        if let result, outcome.status.isOK {
            return result
        }
        return body(UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// Replaces the whole buffer with `bytes`. For a request or response body, Envoy fixes
    /// nothing else: when the length changes, update `content-length` while the headers are
    /// still paused (see the guide, "Rewriting a body").
    @discardableResult
    public func replace(with bytes: [UInt8]) -> HostStatus {
        let current = size
        return bytes.withBytes { HostStatus(rawValue: proxy_set_buffer_bytes(bufferType, 0, current, $0, $1)) }
    }

    /// Replaces the whole buffer with the UTF-8 bytes of `text`.
    @discardableResult
    public func replace(with text: String) -> HostStatus {
        replace(with: Array(text.utf8))
    }

    /// Appends `bytes` at the end of the buffer.
    @discardableResult
    public func append(_ bytes: [UInt8]) -> HostStatus {
        let current = size
        return bytes.withBytes { HostStatus(rawValue: proxy_set_buffer_bytes(bufferType, current, 0, $0, $1)) }
    }

    /// Inserts `bytes` at the start of the buffer.
    @discardableResult
    public func prepend(_ bytes: [UInt8]) -> HostStatus {
        bytes.withBytes { HostStatus(rawValue: proxy_set_buffer_bytes(bufferType, 0, 0, $0, $1)) }
    }
}
