import PIIGuardLogic
import Testing

@Suite("Stream scanner")
struct StreamScannerTests {
    static let detector = PIIDetector(literals: [LiteralPattern(name: "codename", literal: "BLUEBIRD")])
    static let text = Array("""
        {"card": "4111 1111 1111 1111", "ssn": "123-45-6789", "mail": "jane.doe@example.com",
         "note": "bluebird ships 5555-5555-5555-4444 to first.last@corp.io; 078 05 1120"}
        """.utf8)

    static func counts(_ chunks: [[UInt8]]) -> FindingCounts {
        var scanner = StreamScanner(detector: detector)
        for (index, chunk) in chunks.enumerated() {
            scanner.feed(chunk, endOfStream: index == chunks.count - 1)
        }
        return scanner.counts
    }

    @Test("the whole body at once finds everything")
    func whole() {
        let counts = Self.counts([Self.text])
        #expect(counts[.card] == 2)
        #expect(counts[.ssn] == 2)
        #expect(counts[.email] == 2)
        #expect(counts[.custom(0)] == 1)
    }

    @Test("the counts are the same wherever the body is split in two")
    func everySplit() {
        let expected = Self.counts([Self.text])
        for split in 0...Self.text.count {
            let counts = Self.counts([Array(Self.text[..<split]), Array(Self.text[split...])])
            #expect(counts == expected, "split at \(split)")
        }
    }

    @Test("the counts are the same in small chunks", arguments: [1, 2, 3, 7, 16])
    func smallChunks(size: Int) {
        var chunks: [[UInt8]] = []
        var start = 0
        while start < Self.text.count {
            chunks.append(Array(Self.text[start..<min(start + size, Self.text.count)]))
            start += size
        }
        chunks.append([])
        #expect(Self.counts(chunks) == Self.counts([Self.text]))
    }

    @Test("a trailing empty chunk with end of stream flushes what is pending")
    func flushOnEnd() {
        var scanner = StreamScanner(detector: Self.detector)
        scanner.feed(Array("card 4111 1111 1111 1111".utf8), endOfStream: false)
        #expect(scanner.counts.total == 0)
        scanner.feed([], endOfStream: true)
        #expect(scanner.counts[.card] == 1)
    }

    @Test("memory stays bounded on a long run without a safe cut")
    func boundedCarry() {
        var scanner = StreamScanner(detector: PIIDetector(), maximumCarry: 1024)
        for _ in 0..<200 {
            scanner.feed(Array(repeating: UInt8(ascii: "a"), count: 500), endOfStream: false)
        }
        scanner.feed(Array(" mail jane@example.com".utf8), endOfStream: true)
        #expect(scanner.counts[.email] == 1)
        #expect(scanner.bytesSeen == 100_000 + 22)
    }
}
