/// The Luhn checksum (ISO/IEC 7812-1), which every payment card number satisfies.
public enum Luhn {
    /// Whether `digits` (values 0–9, most significant first) pass the Luhn check.
    public static func isValid(_ digits: [UInt8]) -> Bool {
        guard !digits.isEmpty else { return false }
        var sum = 0
        var double = false
        for digit in digits.reversed() {
            guard digit <= 9 else { return false }
            var value = Int(digit)
            if double {
                value *= 2
                if value > 9 {
                    value -= 9
                }
            }
            sum += value
            double.toggle()
        }
        return sum % 10 == 0
    }

    /// Whether the decimal digits in `text` pass the Luhn check; spaces and dashes are
    /// ignored, any other character fails.
    public static func isValid(_ text: String) -> Bool {
        var digits: [UInt8] = []
        for byte in text.utf8 {
            if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                digits.append(byte - UInt8(ascii: "0"))
            } else if byte != UInt8(ascii: " ") && byte != UInt8(ascii: "-") {
                return false
            }
        }
        return isValid(digits)
    }
}
