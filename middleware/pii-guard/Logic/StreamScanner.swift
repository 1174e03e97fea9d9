/// Counts PII in a body that arrives chunk by chunk, without buffering the body, and still
/// catches a match that spans two chunks.
///
/// How: structured kinds (cards, SSNs, e-mails) are scanned only up to a *safe cut*, a position
/// no match can straddle (for example between a letter and a comma, or a digit and a letter
/// that is not an e-mail character). The bytes after the last safe cut wait for the next chunk.
/// Literal patterns are scanned to the end of each chunk; the last `longest - 1` bytes are kept
/// so that a literal split across chunks is seen whole next time, and a literal is counted only
/// once, by the round in which it ends.
///
/// When no safe cut appears for ``maximumCarry`` bytes (a long run of letters and digits), the
/// scanner cuts anyway; a match straddling that forced cut may be missed.
public struct StreamScanner: Sendable {
    /// The detector used for each region.
    public let detector: PIIDetector
    /// How many pending bytes to keep at most before forcing a cut.
    public let maximumCarry: Int
    /// What has been found so far.
    public private(set) var counts: FindingCounts

    /// Bytes from absolute offset `bufferStart` to the end of the stream so far.
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    /// Structured kinds have been scanned up to this absolute offset (a cut).
    private var structuredScannedTo = 0
    /// Literals ending at or before this absolute offset have been counted.
    private var literalsScannedTo = 0

    /// Creates a scanner.
    public init(detector: PIIDetector, maximumCarry: Int = 1024) {
        self.detector = detector
        self.maximumCarry = max(maximumCarry, 320)
        self.counts = FindingCounts(customPatternCount: detector.literals.count)
    }

    /// Total bytes seen.
    public var bytesSeen: Int { bufferStart + buffer.count }

    /// Scans the next chunk. With `endOfStream`, everything still pending is scanned.
    public mutating func feed(_ chunk: [UInt8], endOfStream: Bool) {
        chunk.withUnsafeBytes { feed($0, endOfStream: endOfStream) }
    }

    /// Scans the next chunk from borrowed memory (the SDK's `BodyBuffer.withBytes`).
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, endOfStream: Bool) {
        buffer.append(contentsOf: chunk)
        let total = bufferStart + buffer.count
        var found: [PIIMatch] = []
        let detector = self.detector
        let bufferStart = self.bufferStart

        // Structured kinds: up to the last safe cut (or everything at the end of the stream).
        var cut = endOfStream ? total : lastSafeCut(after: structuredScannedTo, before: total)
        if !endOfStream && cut <= structuredScannedTo && total - structuredScannedTo > maximumCarry {
            cut = total - maximumCarry / 2
        }
        if cut > structuredScannedTo {
            let from = structuredScannedTo - bufferStart
            let to = cut - bufferStart
            buffer.withUnsafeBytes { bytes in
                detector.findStructured(in: bytes, from: from, to: to, into: &found)
            }
            structuredScannedTo = cut
        }

        // Literals: everything that ends in this round.
        if !detector.literals.isEmpty && total > literalsScannedTo {
            let from = literalsScannedTo - bufferStart
            buffer.withUnsafeBytes { bytes in
                detector.findLiterals(in: bytes, from: from, to: bytes.count, into: &found)
            }
            literalsScannedTo = total
        }
        counts.add(PIIDetector.resolveOverlaps(found))

        // Keep one byte before the structured cut (to check what precedes a match) and enough
        // history for a literal to reach back across the chunk boundary.
        var keepFrom = structuredScannedTo - 1
        if !detector.literals.isEmpty {
            keepFrom = min(keepFrom, literalsScannedTo - (detector.longestLiteral - 1))
        }
        keepFrom = max(keepFrom, bufferStart)
        if endOfStream {
            keepFrom = total
        }
        if keepFrom > bufferStart {
            buffer.removeFirst(keepFrom - bufferStart)
            self.bufferStart = keepFrom
        }
    }

    /// The last absolute position in `(after, before)` where no structured match can straddle,
    /// or `after` when there is none.
    private func lastSafeCut(after: Int, before: Int) -> Int {
        var position = before - 1
        while position > after {
            let previous = buffer[position - 1 - bufferStart]
            let next = buffer[position - bufferStart]
            if StreamScanner.isSafeCut(previous, next) {
                return position
            }
            position -= 1
        }
        return after
    }

    /// Whether no card, SSN or e-mail can contain both `previous` and `next` side by side.
    static func isSafeCut(_ previous: UInt8, _ next: UInt8) -> Bool {
        if ASCII.isEmailLocal(previous) && ASCII.isEmailLocal(next) { return false }
        if previous == UInt8(ascii: "@") || next == UInt8(ascii: "@") { return false }
        if ASCII.isDigit(previous) && next == UInt8(ascii: " ") { return false }
        if previous == UInt8(ascii: " ") && ASCII.isDigit(next) { return false }
        return true
    }
}
