import Foundation

/// A single byte range from a `Range` header (RFC 9110, section 14).
enum ByteRange: Equatable {
    /// The inclusive range to send.
    case range(Int, Int)
    /// A well-formed range that lies past the end: 416.
    case unsatisfiable
    /// A header to ignore (another unit, several ranges, or malformed): send the whole body.
    case ignore

    static func parse(_ header: String, length: Int) -> ByteRange {
        guard header.hasPrefix("bytes=") else { return .ignore }
        let spec = header.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .ignore }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            // "-N": the last N bytes.
            guard let suffix = Int(last), suffix > 0 else { return .ignore }
            return length > 0 ? .range(max(0, length - suffix), length - 1) : .unsatisfiable
        }
        guard let start = Int(first), start >= 0 else { return .ignore }
        guard start < length else { return .unsatisfiable }
        if last.isEmpty { return .range(start, length - 1) }
        guard let end = Int(last), end >= start else { return .ignore }
        return .range(start, min(end, length - 1))
    }
}
