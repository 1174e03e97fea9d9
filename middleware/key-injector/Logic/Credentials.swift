/// Finding an internal key in a request and putting the real one in its place.
public enum Credentials {
    /// The key in a header value such as "Bearer abc" (`scheme` "Bearer", matched ignoring
    /// case) or "abc" (`scheme` empty). Nil when the value has another scheme or no key.
    public static func key(inHeaderValue value: String, scheme: String) -> [UInt8]? {
        var bytes = Array(value.utf8)
        trimSpaces(&bytes)
        if !scheme.isEmpty {
            let prefix = Array(scheme.utf8).map(ASCII.lowercased)
            guard bytes.count > prefix.count, bytes[..<prefix.count].map(ASCII.lowercased) == prefix,
                bytes[prefix.count] == UInt8(ascii: " ")
            else { return nil }
            bytes.removeFirst(prefix.count + 1)
            trimSpaces(&bytes)
        }
        return bytes.isEmpty ? nil : bytes
    }

    /// The header value carrying `key` with `scheme` ("Bearer key", or "key").
    public static func headerValue(key: String, scheme: String) -> String {
        scheme.isEmpty ? key : scheme + " " + key
    }

    /// The percent-decoded value of query parameter `name` in `path`, if present.
    public static func queryValue(named name: String, in path: String) -> [UInt8]? {
        for parameter in parameters(of: path) where parameter.name == Array(name.utf8) {
            return percentDecode(parameter.value)
        }
        return nil
    }

    /// `path` with query parameter `name` set to `value` (percent-encoded), or removed when
    /// `value` is nil.
    public static func replacingQueryValue(named name: String, in path: String, with value: String?) -> String {
        let bytes = Array(path.utf8)
        guard let question = bytes.firstIndex(of: UInt8(ascii: "?")) else { return path }
        let fragmentStart = bytes.firstIndex(of: UInt8(ascii: "#")) ?? bytes.count
        var kept: [[UInt8]] = []
        for parameter in parameters(of: path) {
            if parameter.name == Array(name.utf8) {
                if let value {
                    kept.append(parameter.name + [UInt8(ascii: "=")] + percentEncode(Array(value.utf8)))
                }
            } else {
                kept.append(parameter.raw)
            }
        }
        var output = Array(bytes[..<question])
        if !kept.isEmpty {
            output.append(UInt8(ascii: "?"))
            for (index, parameter) in kept.enumerated() {
                if index > 0 { output.append(UInt8(ascii: "&")) }
                output.append(contentsOf: parameter)
            }
        }
        output.append(contentsOf: bytes[fragmentStart...])
        return String(decoding: output, as: UTF8.self)
    }

    struct Parameter {
        let name: [UInt8]
        let value: [UInt8]
        let raw: [UInt8]
    }

    static func parameters(of path: String) -> [Parameter] {
        let bytes = Array(path.utf8)
        guard let question = bytes.firstIndex(of: UInt8(ascii: "?")) else { return [] }
        let end = bytes.firstIndex(of: UInt8(ascii: "#")) ?? bytes.count
        guard question + 1 < end else { return [] }
        var result: [Parameter] = []
        for raw in bytes[(question + 1)..<end].split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let parts = raw.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            result.append(Parameter(name: Array(parts[0]), value: parts.count > 1 ? Array(parts[1]) : [], raw: Array(raw)))
        }
        return result
    }

    static func percentDecode(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count, let high = hex(bytes[index + 1]), let low = hex(bytes[index + 2]) {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(bytes[index] == UInt8(ascii: "+") ? UInt8(ascii: " ") : bytes[index])
                index += 1
            }
        }
        return output
    }

    static func percentEncode(_ bytes: [UInt8]) -> [UInt8] {
        let digits = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        for byte in bytes {
            if ASCII.isDigit(byte) || ASCII.isLetter(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
            {
                output.append(byte)
            } else {
                output.append(contentsOf: [UInt8(ascii: "%"), digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
            }
        }
        return output
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        if ASCII.isDigit(byte) { return byte - UInt8(ascii: "0") }
        let lower = ASCII.lowercased(byte)
        if lower >= UInt8(ascii: "a") && lower <= UInt8(ascii: "f") { return lower - UInt8(ascii: "a") + 10 }
        return nil
    }

    private static func trimSpaces(_ bytes: inout [UInt8]) {
        while let first = bytes.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { bytes.removeFirst() }
        while let last = bytes.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { bytes.removeLast() }
    }
}
