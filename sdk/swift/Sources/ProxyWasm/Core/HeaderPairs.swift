/// One header (or trailer): a name and a value.
public struct HeaderPair: Equatable, Sendable {
    /// The header name; Envoy hands names over in lower case.
    public var name: String
    /// The header value.
    public var value: String

    /// Creates a pair.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The Proxy-Wasm "serialized map" format in which header maps cross the ABI.
///
/// Little-endian: a u32 pair count; then, for each pair, the u32 sizes of key and value; then,
/// for each pair, the key bytes, a NUL, the value bytes, a NUL. (proxy-wasm-cpp-host
/// `include/proxy-wasm/exports.h`, `marshalPairs`.)
public enum SerializedPairs {
    /// Encodes `pairs` for `proxy_set_header_map_pairs`, `proxy_http_call` and
    /// `proxy_send_local_response`.
    public static func encode(_ pairs: [HeaderPair]) -> [UInt8] {
        var size = 4
        for pair in pairs {
            size += 8 + pair.name.utf8.count + 1 + pair.value.utf8.count + 1
        }
        var output: [UInt8] = []
        output.reserveCapacity(size)
        appendUInt32(UInt32(pairs.count), to: &output)
        for pair in pairs {
            appendUInt32(UInt32(pair.name.utf8.count), to: &output)
            appendUInt32(UInt32(pair.value.utf8.count), to: &output)
        }
        for pair in pairs {
            output.append(contentsOf: pair.name.utf8)
            output.append(0)
            output.append(contentsOf: pair.value.utf8)
            output.append(0)
        }
        return output
    }

    /// Decodes what `proxy_get_header_map_pairs` returns. Returns an empty list for an empty or
    /// malformed buffer rather than reading past its end.
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> [HeaderPair] {
        guard bytes.count >= 4 else { return [] }
        let count = Int(readUInt32(bytes, at: 0))
        guard count <= (bytes.count - 4) / 8 else { return [] }
        var pairs: [HeaderPair] = []
        pairs.reserveCapacity(count)
        var sizesOffset = 4
        var dataOffset = 4 + count * 8
        for _ in 0..<count {
            let nameSize = Int(readUInt32(bytes, at: sizesOffset))
            let valueSize = Int(readUInt32(bytes, at: sizesOffset + 4))
            sizesOffset += 8
            guard nameSize <= bytes.count, valueSize <= bytes.count,
                dataOffset + nameSize + 1 + valueSize + 1 <= bytes.count
            else { return pairs }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[dataOffset..<(dataOffset + nameSize)]), as: UTF8.self)
            dataOffset += nameSize + 1
            let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[dataOffset..<(dataOffset + valueSize)]), as: UTF8.self)
            dataOffset += valueSize + 1
            pairs.append(HeaderPair(name, value))
        }
        return pairs
    }

    /// Decodes an encoded array (tests and callers holding an array).
    public static func decode(_ bytes: [UInt8]) -> [HeaderPair] {
        bytes.withUnsafeBytes { decode($0) }
    }

    private static func appendUInt32(_ value: UInt32, to output: inout [UInt8]) {
        output.append(UInt8(truncatingIfNeeded: value))
        output.append(UInt8(truncatingIfNeeded: value >> 8))
        output.append(UInt8(truncatingIfNeeded: value >> 16))
        output.append(UInt8(truncatingIfNeeded: value >> 24))
    }

    private static func readUInt32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
            | UInt32(bytes[offset + 3]) << 24
    }
}
