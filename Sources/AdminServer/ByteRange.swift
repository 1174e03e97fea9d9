import Foundation
/// A single byte range from a `Range` header (RFC 9110, section 14.1.2).
enum ByteRange {
    /// The inclusive `(start, end)` that `header` asks for in a body of `length` bytes, or nil when
    /// it is malformed, asks for several ranges, or is not satisfiable.
    static func parse(_ header: String, length: Int) -> (Int, Int)? {
        guard header.hasPrefix("bytes="), length > 0 else { return nil }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            // "-N": the last N bytes.
            guard let suffix = Int(last), suffix > 0 else { return nil }
            return (max(0, length - suffix), length - 1)
        }
        guard let start = Int(first), start >= 0, start < length else { return nil }
        if last.isEmpty { return (start, length - 1) }
        guard let end = Int(last), end >= start else { return nil }
        return (start, min(end, length - 1))
    }
}
