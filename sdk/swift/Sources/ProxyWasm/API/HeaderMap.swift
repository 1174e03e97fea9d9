/// One of the header maps of the current HTTP exchange (or of a callout response).
///
/// A `HeaderMap` is only a name for the map; every read and write goes to Envoy, which owns the
/// headers. Use it from the step that makes the map available: request headers from
/// `onRequestHeaders` on (they stay writable while the request is paused), response headers from
/// `onResponseHeaders` on, and so on.
///
/// ```swift
/// let path = HeaderMap.requestHeaders[":path"]
/// HeaderMap.requestHeaders["x-checked-by"] = "pii-guard"
/// ```
public struct HeaderMap: Sendable {
    /// The Proxy-Wasm `proxy_map_type_t` value.
    public let mapType: UInt32

    /// Names a map by its raw type.
    public init(mapType: UInt32) {
        self.mapType = mapType
    }

    /// The request's headers, pseudo-headers included (`:method`, `:path`, `:authority`).
    public static let requestHeaders = HeaderMap(mapType: 0)
    /// The request's trailers.
    public static let requestTrailers = HeaderMap(mapType: 1)
    /// The response's headers, `:status` included.
    public static let responseHeaders = HeaderMap(mapType: 2)
    /// The response's trailers.
    public static let responseTrailers = HeaderMap(mapType: 3)
    /// A callout response's headers; readable inside the callout's response handler only.
    public static let httpCallResponseHeaders = HeaderMap(mapType: 6)
    /// A callout response's trailers; readable inside the callout's response handler only.
    public static let httpCallResponseTrailers = HeaderMap(mapType: 7)

    /// The value of header `name` (lower case), or nil. With several values, Envoy returns
    /// them joined by commas.
    public func value(_ name: String) -> String? {
        name.withBytes { key, keySize in
            hostString { proxy_get_header_map_value(mapType, key, keySize, $0, $1) }
        }
    }

    /// Reads, sets (replacing every existing value) or, with nil, removes header `name`.
    public subscript(name: String) -> String? {
        get { value(name) }
        nonmutating set {
            if let newValue {
                set(name, to: newValue)
            } else {
                remove(name)
            }
        }
    }

    /// Sets header `name` to `value`, replacing every existing value.
    @discardableResult
    public func set(_ name: String, to value: String) -> HostStatus {
        name.withBytes { key, keySize in
            value.withBytes { data, dataSize in
                HostStatus(rawValue: proxy_replace_header_map_value(mapType, key, keySize, data, dataSize))
            }
        }
    }

    /// Adds a value for header `name`, keeping existing values.
    @discardableResult
    public func add(_ name: String, _ value: String) -> HostStatus {
        name.withBytes { key, keySize in
            value.withBytes { data, dataSize in
                HostStatus(rawValue: proxy_add_header_map_value(mapType, key, keySize, data, dataSize))
            }
        }
    }

    /// Removes every value of header `name`.
    @discardableResult
    public func remove(_ name: String) -> HostStatus {
        name.withBytes { key, keySize in
            HostStatus(rawValue: proxy_remove_header_map_value(mapType, key, keySize))
        }
    }

    /// Every header in order, one pair per value. Setting it replaces the whole map.
    public var pairs: [HeaderPair] {
        get {
            withHostValue({ proxy_get_header_map_pairs(mapType, $0, $1) }) {
                SerializedPairs.decode($0)
            }.value ?? []
        }
        nonmutating set {
            let encoded = SerializedPairs.encode(newValue)
            _ = encoded.withBytes { proxy_set_header_map_pairs(mapType, $0, $1) }
        }
    }

    /// Calls `body` with each header in order.
    public func forEach(_ body: (HeaderPair) -> Void) {
        for pair in pairs {
            body(pair)
        }
    }

    /// The number of header values in the map. (Proxy-Wasm's `proxy_get_header_map_size`
    /// returns Envoy's byte size of the map, not a count, so this counts the pairs.)
    public var count: Int { pairs.count }
}
