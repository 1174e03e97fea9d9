/// Finds payment card numbers, e-mail addresses, US social security numbers and literal
/// patterns in bytes. It allocates nothing per byte and reads each byte a bounded number of
/// times, so a 1 KB body costs microseconds.
///
/// - Card numbers: 13–19 digits, optionally in groups separated by one space or one dash (the
///   same separator throughout), passing the Luhn check, not glued to letters or digits.
/// - E-mail addresses: `local@domain.tld`, a local part of letters, digits and `._%+-`, a
///   domain of at least two labels, and a top-level label of two or more letters.
/// - SSNs: `AAA-GG-SSSS` or `AAA GG SSSS`, except area 000, 666 and 900–999, group 00 and
///   serial 0000.
public struct PIIDetector: Equatable, Sendable {
    /// Whether to look for card numbers.
    public var cards: Bool
    /// Whether to look for e-mail addresses.
    public var emails: Bool
    /// Whether to look for SSNs.
    public var ssns: Bool
    /// Literal patterns; pattern `i` reports as ``PIIKind/custom(_:)`` with index `i`.
    public var literals: [LiteralPattern]

    /// Creates a detector; by default every built-in kind is on.
    public init(cards: Bool = true, emails: Bool = true, ssns: Bool = true, literals: [LiteralPattern] = []) {
        self.cards = cards
        self.emails = emails
        self.ssns = ssns
        self.literals = literals
    }

    /// The longest literal, which bounds how far a literal match can reach back across a chunk
    /// boundary.
    public var longestLiteral: Int {
        literals.reduce(0) { max($0, $1.bytes.count) }
    }

    /// The name of `kind` for metrics, logs and responses.
    public func name(of kind: PIIKind) -> String {
        if kind.index < PIIKind.builtInCount {
            return PIIKind.builtInNames[kind.index]
        }
        let pattern = kind.index - PIIKind.builtInCount
        return pattern < literals.count ? literals[pattern].name : "custom"
    }

    /// Every match in `bytes`, sorted by position, overlaps resolved in favour of the earlier
    /// (then the longer) match.
    public func matches(in bytes: [UInt8]) -> [PIIMatch] {
        bytes.withUnsafeBytes { buffer in
            var found: [PIIMatch] = []
            findStructured(in: buffer, from: 0, to: buffer.count, into: &found)
            findLiterals(in: buffer, from: 0, to: buffer.count, into: &found)
            return PIIDetector.resolveOverlaps(found)
        }
    }

    /// Sorts matches and drops any that overlap an earlier one.
    public static func resolveOverlaps(_ matches: [PIIMatch]) -> [PIIMatch] {
        guard matches.count > 1 else { return matches }
        let sorted = matches.sorted { $0.start != $1.start ? $0.start < $1.start : $0.end > $1.end }
        var kept: [PIIMatch] = []
        var reached = 0
        for match in sorted where match.start >= reached {
            kept.append(match)
            reached = match.end
        }
        return kept
    }

    // MARK: Structured kinds (cards, SSNs, e-mail addresses)

    /// Appends card, SSN and e-mail matches that start in `from..<to`. Bytes outside the range
    /// are only looked at to check that a match is not glued to its neighbours.
    public func findStructured(in bytes: UnsafeRawBufferPointer, from: Int, to: Int, into found: inout [PIIMatch]) {
        if cards || ssns {
            findNumbers(in: bytes, from: from, to: to, into: &found)
        }
        if emails {
            findEmails(in: bytes, from: from, to: to, into: &found)
        }
    }

    /// The fewest digits a run needs to hold a match: an SSN has 9, a card at least 13.
    static let fewestDigits = 9

    private func findNumbers(in bytes: UnsafeRawBufferPointer, from: Int, to: Int, into found: inout [PIIMatch]) {
        var groups = DigitGroups()
        var index = from
        while index < to {
            guard ASCII.isDigit(bytes[index]) else {
                index += 1
                continue
            }
            if index > 0 && ASCII.isAlphanumeric(bytes[index - 1]) {
                // Digits glued to a word ("order123", "x9"): skip the word.
                while index < to && ASCII.isAlphanumeric(bytes[index]) {
                    index += 1
                }
                continue
            }
            // Most runs are too short for an SSN (9 digits) or a card (13): skip those without
            // recording their groups.
            let run = DigitGroups.measure(bytes, from: index, to: to)
            if run.digits >= PIIDetector.fewestDigits {
                let runEnd = groups.parse(bytes, from: index, to: to)
                let lastGlued = runEnd < bytes.count && ASCII.isAlphanumeric(bytes[runEnd])
                evaluate(groups, in: bytes, lastGlued: lastGlued, into: &found)
            }
            index = run.end
            // A run glued to letters at its end: skip the rest of that word too.
            while index < to && ASCII.isAlphanumeric(bytes[index]) {
                index += 1
            }
        }
    }

    private func evaluate(_ groups: DigitGroups, in bytes: UnsafeRawBufferPointer, lastGlued: Bool, into found: inout [PIIMatch]) {
        let count = lastGlued ? groups.count - 1 : groups.count
        guard count > 0 else { return }
        var taken: UInt32 = 0  // bit i: group i belongs to an SSN already
        if ssns {
            var group = 0
            while group + 3 <= count {
                if isSSN(groups, at: group, totalGroups: groups.count, in: bytes) {
                    found.append(PIIMatch(kind: .ssn, start: groups.start(group), end: groups.end(group + 2)))
                    taken |= 0b111 << UInt32(group)
                    group += 3
                } else {
                    group += 1
                }
            }
        }
        guard cards else { return }
        var first = 0
        while first < count {
            // Extend while the separator stays the same and no SSN group is crossed; keep the
            // longest sequence that is a valid card.
            var digits = 0
            var last = first
            var best = -1
            while last < count && taken & (1 << UInt32(last)) == 0 {
                if last > first && groups.separator(before: last) != groups.separator(before: first + 1) {
                    break
                }
                digits += groups.length(last)
                if digits > 19 {
                    break
                }
                if digits >= 13 && isLuhnValid(groups, from: first, through: last, in: bytes) {
                    best = last
                }
                last += 1
            }
            if best >= 0 {
                found.append(PIIMatch(kind: .card, start: groups.start(first), end: groups.end(best)))
                first = best + 1
            } else {
                first += 1
            }
        }
    }

    private func isSSN(_ groups: DigitGroups, at group: Int, totalGroups: Int, in bytes: UnsafeRawBufferPointer) -> Bool {
        guard groups.length(group) == 3, groups.length(group + 1) == 2, groups.length(group + 2) == 4 else {
            return false
        }
        let separator = groups.separator(before: group + 1)
        guard groups.separator(before: group + 2) == separator else { return false }
        // Not part of a longer chain with the same separator ("123-45-6789-01" is another ID).
        if group > 0 && groups.separator(before: group) == separator { return false }
        if group + 3 < totalGroups && groups.separator(before: group + 3) == separator { return false }
        let area = groups.value(group, in: bytes)
        let groupNumber = groups.value(group + 1, in: bytes)
        let serial = groups.value(group + 2, in: bytes)
        return area != 0 && area != 666 && area < 900 && groupNumber != 0 && serial != 0
    }

    private func isLuhnValid(_ groups: DigitGroups, from first: Int, through last: Int, in bytes: UnsafeRawBufferPointer) -> Bool {
        var sum = 0
        var double = false
        var group = last
        while group >= first {
            var index = groups.end(group) - 1
            while index >= groups.start(group) {
                var value = Int(bytes[index] - UInt8(ascii: "0"))
                if double {
                    value *= 2
                    if value > 9 { value -= 9 }
                }
                sum += value
                double.toggle()
                index -= 1
            }
            group -= 1
        }
        return sum % 10 == 0
    }

    private func findEmails(in bytes: UnsafeRawBufferPointer, from: Int, to: Int, into found: inout [PIIMatch]) {
        var index = from
        while index < to {
            guard bytes[index] == UInt8(ascii: "@") else {
                index += 1
                continue
            }
            // Local part: back from the '@', at most 64 characters.
            var localStart = index
            while localStart > 0 && index - localStart < 64 && ASCII.isEmailLocal(bytes[localStart - 1]) {
                localStart -= 1
            }
            while localStart < index && bytes[localStart] == UInt8(ascii: ".") {
                localStart += 1
            }
            // Domain: forward from the '@', at most 253 characters, within the range.
            var domainEnd = index + 1
            while domainEnd < to && domainEnd - index <= 253 && ASCII.isDomain(bytes[domainEnd]) {
                domainEnd += 1
            }
            while domainEnd > index + 1 && (bytes[domainEnd - 1] == UInt8(ascii: ".") || bytes[domainEnd - 1] == UInt8(ascii: "-")) {
                domainEnd -= 1
            }
            if localStart < index && localStart >= from && bytes[index - 1] != UInt8(ascii: ".")
                && isDomainName(bytes, from: index + 1, to: domainEnd)
            {
                found.append(PIIMatch(kind: .email, start: localStart, end: domainEnd))
                index = domainEnd
            } else {
                index += 1
            }
        }
    }

    private func isDomainName(_ bytes: UnsafeRawBufferPointer, from: Int, to: Int) -> Bool {
        guard to > from else { return false }
        var labels = 0
        var labelStart = from
        var index = from
        while index <= to {
            if index == to || bytes[index] == UInt8(ascii: ".") {
                let length = index - labelStart
                guard length > 0, length <= 63, bytes[labelStart] != UInt8(ascii: "-"),
                    bytes[index - 1] != UInt8(ascii: "-")
                else { return false }
                labels += 1
                if index == to {
                    // The top-level label: two or more letters.
                    guard length >= 2 else { return false }
                    for position in labelStart..<index where !ASCII.isLetter(bytes[position]) {
                        return false
                    }
                }
                labelStart = index + 1
            }
            index += 1
        }
        return labels >= 2
    }

    // MARK: Literal patterns

    /// Appends literal matches that end in `from..<to`, plus those that start before `from`
    /// when they end after it (the stream scanner keeps enough history for that).
    public func findLiterals(in bytes: UnsafeRawBufferPointer, from: Int, to: Int, into found: inout [PIIMatch]) {
        for (patternIndex, pattern) in literals.enumerated() {
            let length = pattern.bytes.count
            guard length > 0 else { continue }
            let first = pattern.bytes[0]
            var start = max(0, from - (length - 1))
            while start + length <= to {
                let byte = pattern.caseSensitive ? bytes[start] : ASCII.lowercased(bytes[start])
                if byte == first && literalMatches(pattern, in: bytes, at: start) {
                    found.append(PIIMatch(kind: .custom(patternIndex), start: start, end: start + length))
                    start += length
                } else {
                    start += 1
                }
            }
        }
    }

    private func literalMatches(_ pattern: LiteralPattern, in bytes: UnsafeRawBufferPointer, at start: Int) -> Bool {
        for offset in 1..<max(1, pattern.bytes.count) {
            let byte = pattern.caseSensitive ? bytes[start + offset] : ASCII.lowercased(bytes[start + offset])
            if byte != pattern.bytes[offset] {
                return false
            }
        }
        return true
    }
}
