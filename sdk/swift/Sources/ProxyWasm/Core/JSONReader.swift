/// Why a JSON document could not be read, and where.
public struct JSONError: Error, Equatable, Sendable {
    /// What was wrong, for example "expected ':' after an object key".
    public let reason: String
    /// The byte offset in the document where reading stopped.
    public let offset: Int

    /// Creates an error.
    public init(_ reason: String, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    /// "invalid JSON at byte 12: expected ':' after an object key".
    public var message: String { "invalid JSON at byte \(offset): \(reason)" }
}

/// Reads JSON (RFC 8259) into ``JSONValue``.
public enum JSON {
    /// Nesting deeper than this is refused, so that a hostile configuration cannot exhaust the
    /// module's stack.
    public static let maximumDepth = 64

    /// Parses a complete document from UTF-8 bytes.
    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
        var reader = JSONReader(bytes)
        return try reader.readDocument()
    }

    /// Parses a complete document from a string.
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

/// A recursive-descent reader over bytes.
struct JSONReader {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    mutating func readDocument() throws(JSONError) -> JSONValue {
        skipWhitespace()
        let value = try readValue(depth: 0)
        skipWhitespace()
        if position < bytes.count {
            throw JSONError("unexpected data after the document", at: position)
        }
        return value
    }

    // MARK: Values

    private mutating func readValue(depth: Int) throws(JSONError) -> JSONValue {
        guard position < bytes.count else {
            throw JSONError("unexpected end of input, expected a value", at: position)
        }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            return try readObject(depth: depth + 1)
        case UInt8(ascii: "["):
            return try readArray(depth: depth + 1)
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return try readNumber()
        default:
            throw JSONError("unexpected character, expected a value", at: position)
        }
    }

    private mutating func readObject(depth: Int) throws(JSONError) -> JSONValue {
        if depth > JSON.maximumDepth {
            throw JSONError("nested deeper than \(JSON.maximumDepth) levels", at: position)
        }
        position += 1  // {
        var members: [JSONMember] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else {
                throw JSONError("expected a string key in an object", at: position)
            }
            let key = try readString()
            skipWhitespace()
            guard peek() == UInt8(ascii: ":") else {
                throw JSONError("expected ':' after an object key", at: position)
            }
            position += 1
            skipWhitespace()
            let value = try readValue(depth: depth)
            members.append(JSONMember(key, value))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "}"):
                position += 1
                return .object(members)
            default:
                throw JSONError("expected ',' or '}' in an object", at: position)
            }
        }
    }

    private mutating func readArray(depth: Int) throws(JSONError) -> JSONValue {
        if depth > JSON.maximumDepth {
            throw JSONError("nested deeper than \(JSON.maximumDepth) levels", at: position)
        }
        position += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try readValue(depth: depth))
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","):
                position += 1
            case UInt8(ascii: "]"):
                position += 1
                return .array(elements)
            default:
                throw JSONError("expected ',' or ']' in an array", at: position)
            }
        }
    }

    // MARK: Strings

    private mutating func readString() throws(JSONError) -> String {
        let start = position
        position += 1  // opening quote
        var utf8: [UInt8] = []
        while true {
            guard position < bytes.count else {
                throw JSONError("unterminated string", at: start)
            }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try readEscape(into: &utf8)
            case 0..<0x20:
                throw JSONError("control character in a string", at: position)
            default:
                utf8.append(byte)
                position += 1
            }
        }
    }

    private mutating func readEscape(into utf8: inout [UInt8]) throws(JSONError) {
        position += 1  // backslash
        guard position < bytes.count else {
            throw JSONError("unterminated escape", at: position)
        }
        let escape = bytes[position]
        position += 1
        switch escape {
        case UInt8(ascii: "\""): utf8.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): utf8.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): utf8.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4()
            if scalar >= 0xD800 && scalar < 0xDC00 {
                // A high surrogate must be followed by an escaped low surrogate.
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else {
                    throw JSONError("unpaired surrogate in \\u escape", at: position)
                }
                position += 2
                let low = try readHex4()
                guard low >= 0xDC00 && low < 0xE000 else {
                    throw JSONError("invalid low surrogate in \\u escape", at: position - 4)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar < 0xE000 {
                throw JSONError("unpaired surrogate in \\u escape", at: position - 4)
            }
            appendUTF8(scalar, to: &utf8)
        default:
            throw JSONError("invalid escape character", at: position - 1)
        }
    }

    private mutating func readHex4() throws(JSONError) -> UInt32 {
        guard position + 4 <= bytes.count else {
            throw JSONError("truncated \\u escape", at: position)
        }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw JSONError("invalid hex digit in \\u escape", at: position)
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    private func appendUTF8(_ scalar: UInt32, to utf8: inout [UInt8]) {
        switch scalar {
        case 0..<0x80:
            utf8.append(UInt8(scalar))
        case 0x80..<0x800:
            utf8.append(UInt8(0xC0 | (scalar >> 6)))
            utf8.append(UInt8(0x80 | (scalar & 0x3F)))
        case 0x800..<0x10000:
            utf8.append(UInt8(0xE0 | (scalar >> 12)))
            utf8.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            utf8.append(UInt8(0x80 | (scalar & 0x3F)))
        default:
            utf8.append(UInt8(0xF0 | (scalar >> 18)))
            utf8.append(UInt8(0x80 | ((scalar >> 12) & 0x3F)))
            utf8.append(UInt8(0x80 | ((scalar >> 6) & 0x3F)))
            utf8.append(UInt8(0x80 | (scalar & 0x3F)))
        }
    }

    // MARK: Numbers

    private mutating func readNumber() throws(JSONError) -> JSONValue {
        var negative = false
        if peek() == UInt8(ascii: "-") {
            negative = true
            position += 1
        }
        // Integer part: "0" or a non-zero digit followed by digits.
        guard let first = peek(), isDigit(first) else {
            throw JSONError("expected a digit", at: position)
        }
        var mantissa: UInt64 = 0
        var significantDigits = 0
        var droppedDigits = 0  // integer digits beyond what UInt64 holds, as a power of ten
        if first == UInt8(ascii: "0") {
            position += 1
            if let next = peek(), isDigit(next) {
                throw JSONError("leading zero in a number", at: position)
            }
        } else {
            while let digit = peek(), isDigit(digit) {
                accumulate(digit, into: &mantissa, digits: &significantDigits, dropped: &droppedDigits)
                position += 1
            }
        }
        var exponent = droppedDigits
        var isInteger = droppedDigits == 0
        if peek() == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard let digit = peek(), isDigit(digit) else {
                throw JSONError("expected a digit after the decimal point", at: position)
            }
            while let digit = peek(), isDigit(digit) {
                var dropped = 0
                accumulate(digit, into: &mantissa, digits: &significantDigits, dropped: &dropped)
                if dropped == 0 {
                    exponent -= 1
                }
                position += 1
            }
        }
        if let marker = peek(), marker == UInt8(ascii: "e") || marker == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            var exponentNegative = false
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                exponentNegative = sign == UInt8(ascii: "-")
                position += 1
            }
            guard let digit = peek(), isDigit(digit) else {
                throw JSONError("expected a digit in the exponent", at: position)
            }
            var written = 0
            while let digit = peek(), isDigit(digit) {
                if written < 100_000 {
                    written = written * 10 + Int(digit - UInt8(ascii: "0"))
                }
                position += 1
            }
            exponent += exponentNegative ? -written : written
        }
        if isInteger {
            if negative, mantissa <= UInt64(Int64.max) + 1 {
                return .integer(mantissa == UInt64(Int64.max) + 1 ? Int64.min : -Int64(mantissa))
            }
            if !negative, mantissa <= UInt64(Int64.max) {
                return .integer(Int64(mantissa))
            }
        }
        let magnitude = scale(Double(mantissa), byPowerOfTen: exponent)
        return .number(negative ? -magnitude : magnitude)
    }

    /// Adds one decimal digit; once 19 significant digits are held, further digits only count
    /// as a power of ten (their value is below a double's precision anyway).
    private func accumulate(_ digit: UInt8, into mantissa: inout UInt64, digits: inout Int, dropped: inout Int) {
        if digits < 19 {
            // At most 19 digits: below 2^64, so wrapping arithmetic cannot wrap.
            mantissa = mantissa &* 10 &+ UInt64(digit - UInt8(ascii: "0"))
            if mantissa != 0 {
                digits += 1
            }
        } else {
            dropped += 1
        }
    }

    private func scale(_ value: Double, byPowerOfTen exponent: Int) -> Double {
        if value == 0 { return 0 }
        var result = value
        var remaining = exponent
        while remaining > 0 {
            let step = min(remaining, 22)
            result *= powerOfTen(step)
            remaining -= step
            if result.isInfinite { return result }
        }
        while remaining < 0 {
            let step = min(-remaining, 22)
            result /= powerOfTen(step)
            remaining += step
            if result == 0 { return 0 }
        }
        return result
    }

    private func powerOfTen(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<exponent {
            result *= 10
        }
        return result
    }

    // MARK: Helpers

    private func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
        let start = position
        var matches = true
        literal.withUTF8Buffer { expected in
            if position + expected.count > bytes.count {
                matches = false
                return
            }
            for index in 0..<expected.count where bytes[position + index] != expected[index] {
                matches = false
                return
            }
            position += expected.count
        }
        if !matches {
            throw JSONError("invalid literal", at: start)
        }
    }
}
