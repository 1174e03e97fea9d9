/// Masks matches in place, keeping the length and the shape of what was found, so that a
/// scrubbed body keeps its `content-length` and stays valid JSON, form data or text.
///
/// - Cards and SSNs: digits become the mask; separators stay ("****-****-****-****").
/// - E-mail addresses: everything but `@` and `.` becomes the mask ("****@*******.***").
/// - Custom literals: every byte becomes the mask.
public enum Masking {
    /// Masks every match in `bytes`, which must be what the matches were found in.
    public static func mask(_ bytes: inout [UInt8], matches: [PIIMatch], with mask: UInt8 = UInt8(ascii: "*")) {
        for match in matches where match.start >= 0 && match.end <= bytes.count {
            for index in match.start..<match.end {
                let byte = bytes[index]
                switch match.kind {
                case .card, .ssn:
                    if ASCII.isDigit(byte) { bytes[index] = mask }
                case .email:
                    if byte != UInt8(ascii: "@") && byte != UInt8(ascii: ".") { bytes[index] = mask }
                default:
                    bytes[index] = mask
                }
            }
        }
    }

    /// Finds and masks in one step; returns the matches.
    @discardableResult
    public static func scrub(_ bytes: inout [UInt8], detector: PIIDetector, with mask: UInt8 = UInt8(ascii: "*")) -> [PIIMatch] {
        let matches = detector.matches(in: bytes)
        Masking.mask(&bytes, matches: matches, with: mask)
        return matches
    }
}
