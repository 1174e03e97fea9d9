/// Scans and scrubs the query string of a request path. Values are percent-decoded before
/// scanning (an e-mail arrives as `john%40example.com`) and re-encoded after masking.
public enum QueryString {
    /// The matches in each decoded query value, counted; and, when `mask` is given, the path
    /// with every affected value masked (nil when nothing was found).
    public static func scan(path: String, detector: PIIDetector, mask: UInt8? = nil) -> (counts: FindingCounts, maskedPath: String?) {
        var counts = FindingCounts(customPatternCount: detector.literals.count)
        let bytes = Array(path.utf8)
        guard let questionMark = bytes.firstIndex(of: UInt8(ascii: "?")) else { return (counts, nil) }
        var output = Array(bytes[...questionMark])
        var changed = false
        var index = questionMark + 1
        while index <= bytes.count {
            var end = index
            while end < bytes.count && bytes[end] != UInt8(ascii: "&") && bytes[end] != UInt8(ascii: "#") {
                end += 1
            }
            let parameter = Array(bytes[index..<end])
            if let equals = parameter.firstIndex(of: UInt8(ascii: "=")) {
                var value = percentDecode(parameter[(equals + 1)...])
                let matches = detector.matches(in: value)
                counts.add(matches)
                if let mask, !matches.isEmpty {
                    Masking.mask(&value, matches: matches, with: mask)
                    output.append(contentsOf: parameter[...equals])
                    output.append(contentsOf: percentEncode(value))
                    changed = true
                } else {
                    output.append(contentsOf: parameter)
                }
            } else {
                output.append(contentsOf: parameter)
            }
            if end < bytes.count && bytes[end] == UInt8(ascii: "#") {
                output.append(contentsOf: bytes[end...])
                break
            }
            if end < bytes.count {
                output.append(UInt8(ascii: "&"))
            }
            index = end + 1
        }
        return (counts, changed ? String(decoding: output, as: UTF8.self) : nil)
    }

    /// Decodes `%XX` escapes and `+` (a space in form encoding).
    public static func percentDecode(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                output.append(high << 4 | low)
                index += 3
            } else {
                output.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
                index += 1
            }
        }
        return output
    }

    /// Encodes every byte except RFC 3986 unreserved characters and the mask characters `*`.
    public static func percentEncode(_ bytes: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        for byte in bytes {
            if ASCII.isAlphanumeric(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~") || byte == UInt8(ascii: "*")
            {
                output.append(byte)
            } else {
                output.append(UInt8(ascii: "%"))
                output.append(hexDigit(byte >> 4))
                output.append(hexDigit(byte & 0x0F))
            }
        }
        return output
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }
}
