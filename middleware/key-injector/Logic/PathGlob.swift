/// A path pattern: `*` matches within one segment, `**` across segments, `?` one character
/// other than `/`; everything else matches itself. A pattern ending in `/**` also matches the
/// path without that suffix (`/v1/items/**` matches `/v1/items`).
public struct PathGlob: Equatable, Sendable {
    enum Token: Equatable, Sendable {
        case byte(UInt8)
        case anyCharacter
        case withinSegment
        case acrossSegments
    }

    /// The pattern as written.
    public let pattern: String
    let tokens: [Token]

    /// Compiles `pattern`.
    public init(_ pattern: String) {
        self.pattern = pattern
        var tokens: [Token] = []
        let bytes = Array(pattern.utf8)
        var index = 0
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "*"):
                if index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "*") {
                    tokens.append(.acrossSegments)
                    index += 2
                    while index < bytes.count && bytes[index] == UInt8(ascii: "*") { index += 1 }
                    continue
                }
                tokens.append(.withinSegment)
            case UInt8(ascii: "?"):
                tokens.append(.anyCharacter)
            default:
                tokens.append(.byte(bytes[index]))
            }
            index += 1
        }
        self.tokens = tokens
    }

    /// Whether `path` (without its query string) matches.
    public func matches(_ path: String) -> Bool {
        let text = Array(path.utf8)
        if PathGlob.match(tokens[...], text) {
            return true
        }
        // "/x/**" also matches "/x".
        if tokens.count >= 2, tokens[tokens.count - 1] == .acrossSegments, tokens[tokens.count - 2] == .byte(UInt8(ascii: "/")) {
            return PathGlob.match(tokens[..<(tokens.count - 2)], text)
        }
        return false
    }

    /// Dynamic programming over (pattern prefix, text prefix): linear in the product of their
    /// lengths, never exponential, whatever the pattern.
    static func match(_ tokens: ArraySlice<Token>, _ text: [UInt8]) -> Bool {
        var previous = [Bool](repeating: false, count: text.count + 1)
        previous[0] = true
        var current = previous
        for token in tokens {
            for position in 0...text.count {
                switch token {
                case .byte(let byte):
                    current[position] = position > 0 && previous[position - 1] && text[position - 1] == byte
                case .anyCharacter:
                    current[position] = position > 0 && previous[position - 1] && text[position - 1] != UInt8(ascii: "/")
                case .withinSegment:
                    current[position] = previous[position]
                        || (position > 0 && current[position - 1] && text[position - 1] != UInt8(ascii: "/"))
                case .acrossSegments:
                    current[position] = previous[position] || (position > 0 && current[position - 1])
                }
            }
            swap(&previous, &current)
        }
        return previous[text.count]
    }
}
