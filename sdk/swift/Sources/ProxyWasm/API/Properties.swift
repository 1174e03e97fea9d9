/// Envoy's stream and node attributes (Envoy docs, "Attributes"), read with
/// `proxy_get_property`.
///
/// A property is named by a path, for example `["request", "path"]`. Strings come back as
/// bytes; integers, durations and timestamps as 8-byte little-endian numbers, which the typed
/// accessors below decode.
public enum Properties {
    /// The raw bytes of the property at `path`, or nil when Envoy has no value for it.
    public static func bytes(_ path: [String]) -> [UInt8]? {
        let encoded = encode(path)
        return encoded.withBytes { pathData, pathSize in
            hostBytes { proxy_get_property(pathData, pathSize, $0, $1) }
        }
    }

    /// The property at `path` as a string.
    public static func string(_ path: [String]) -> String? {
        bytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The property at `path` as a signed 64-bit integer (integers, durations in nanoseconds,
    /// timestamps in nanoseconds since the epoch).
    public static func int64(_ path: [String]) -> Int64? {
        guard let raw = bytes(path), raw.count == 8 else { return nil }
        var value: UInt64 = 0
        for index in (0..<8).reversed() {
            value = value << 8 | UInt64(raw[index])
        }
        return Int64(bitPattern: value)
    }

    /// Sets the property at `path` (Envoy allows this for filter state, `wasm.` names).
    @discardableResult
    public static func set(_ path: [String], to value: [UInt8]) -> HostStatus {
        let encoded = encode(path)
        return encoded.withBytes { pathData, pathSize in
            value.withBytes { HostStatus(rawValue: proxy_set_property(pathData, pathSize, $0, $1)) }
        }
    }

    // MARK: Request

    /// The request path with its query (`request.path`).
    public static var requestPath: String? { string(["request", "path"]) }
    /// The request method (`request.method`).
    public static var requestMethod: String? { string(["request", "method"]) }
    /// The request's host, from `:authority` (`request.host`).
    public static var requestAuthority: String? { string(["request", "host"]) }
    /// The request scheme (`request.scheme`).
    public static var requestScheme: String? { string(["request", "scheme"]) }
    /// The request id Envoy assigned (`request.id`).
    public static var requestID: String? { string(["request", "id"]) }
    /// Time since the request started, in nanoseconds (`request.duration`; known once the
    /// exchange is complete).
    public static var requestDurationNanoseconds: Int64? { int64(["request", "duration"]) }

    // MARK: Connection

    /// The downstream peer's address, "ip:port" (`source.address`).
    public static var sourceAddress: String? { string(["source", "address"]) }
    /// The upstream host's address, "ip:port", once connected (`upstream.address`).
    public static var upstreamAddress: String? { string(["upstream", "address"]) }

    // MARK: Response

    /// The response status code (`response.code`).
    public static var responseCode: Int? { int64(["response", "code"]).map { Int($0) } }
    /// Envoy's response flags, a bit set (`response.flags`); see ``ResponseFlags``.
    public static var responseFlags: ResponseFlags? {
        int64(["response", "flags"]).map { ResponseFlags(rawValue: UInt64(bitPattern: $0)) }
    }
    /// Why Envoy produced the response, for example "via_upstream" (`response.code_details`).
    public static var responseCodeDetails: String? { string(["response", "code_details"]) }

    // MARK: Node and plugin

    /// The Envoy node's id (`node.id`).
    public static var nodeID: String? { string(["node", "id"]) }
    /// A string field of the Envoy node's metadata (`node.metadata.<key>`).
    public static func nodeMetadata(_ key: String) -> String? { string(["node", "metadata", key]) }
    /// The filter's plugin name (`plugin_name`).
    public static var pluginName: String? { string(["plugin_name"]) }

    private static func encode(_ path: [String]) -> [UInt8] {
        var encoded: [UInt8] = []
        for (index, segment) in path.enumerated() {
            if index > 0 {
                encoded.append(0)
            }
            encoded.append(contentsOf: segment.utf8)
        }
        return encoded
    }
}
