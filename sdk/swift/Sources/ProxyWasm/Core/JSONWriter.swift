extension JSONValue {
    /// The value as compact JSON text, for report bodies and local responses.
    ///
    /// Non-integral numbers are written with up to six decimals; non-finite numbers, which JSON
    /// cannot express, become `null`.
    public var serialized: String {
        var output: [UInt8] = []
        JSONWriter.write(self, to: &output)
        return String(decoding: output, as: UTF8.self)
    }
}

/// Writes ``JSONValue`` as compact JSON.
public enum JSONWriter {
    /// Appends the JSON text of `value` to `output`.
    public static func write(_ value: JSONValue, to output: inout [UInt8]) {
        switch value {
        case .null:
            append("null", to: &output)
        case .bool(let flag):
            append(flag ? "true" : "false", to: &output)
        case .integer(let number):
            appendInteger(number, to: &output)
        case .number(let number):
            appendDouble(number, to: &output)
        case .string(let text):
            appendString(text, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                write(element, to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, member) in members.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                appendString(member.key, to: &output)
                output.append(UInt8(ascii: ":"))
                write(member.value, to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// Appends `text` as a quoted JSON string, escaping what JSON requires.
    public static func appendString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"", to: &output)
            case UInt8(ascii: "\\"): append("\\\\", to: &output)
            case 0x0A: append("\\n", to: &output)
            case 0x0D: append("\\r", to: &output)
            case 0x09: append("\\t", to: &output)
            case 0..<0x20:
                append("\\u00", to: &output)
                output.append(hexDigit(byte >> 4))
                output.append(hexDigit(byte & 0x0F))
            default:
                output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    private static func appendInteger(_ value: Int64, to output: inout [UInt8]) {
        if value < 0 {
            output.append(UInt8(ascii: "-"))
        }
        appendUnsigned(value.magnitude, to: &output)
    }

    private static func appendUnsigned(_ value: UInt64, to output: inout [UInt8]) {
        var digits: [UInt8] = []
        var remaining = value
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(remaining % 10))
            remaining /= 10
        } while remaining > 0
        output.append(contentsOf: digits.reversed())
    }

    private static func appendDouble(_ value: Double, to output: inout [UInt8]) {
        guard value.isFinite else {
            append("null", to: &output)
            return
        }
        var magnitude = value
        if magnitude < 0 {
            output.append(UInt8(ascii: "-"))
            magnitude = -magnitude
        }
        if magnitude >= 1e18 {
            // Beyond UInt64's exact range; rare in reports, written without a fraction.
            appendUnsigned(UInt64(min(magnitude, 1.8e19)), to: &output)
            return
        }
        let scaled = UInt64(magnitude * 1_000_000 + 0.5)
        appendUnsigned(scaled / 1_000_000, to: &output)
        var fraction = scaled % 1_000_000
        if fraction == 0 {
            return
        }
        output.append(UInt8(ascii: "."))
        var width = 6
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        var digits: [UInt8] = []
        for _ in 0..<width {
            digits.append(UInt8(ascii: "0") + UInt8(fraction % 10))
            fraction /= 10
        }
        output.append(contentsOf: digits.reversed())
    }

    private static func append(_ literal: StaticString, to output: inout [UInt8]) {
        literal.withUTF8Buffer { output.append(contentsOf: $0) }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }
}
