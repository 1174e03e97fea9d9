import PIIGuardLogic
import Testing

@Suite("Masking")
struct MaskingTests {
    @Test("masks in place, keeping length and shape")
    func masks() {
        let detector = PIIDetector(literals: [LiteralPattern(name: "codename", literal: "bluebird")])
        var body = Array(#"{"c":"4111-1111-1111-1111","s":"123-45-6789","m":"jane.doe@example.com","n":"BlueBird"}"#.utf8)
        let length = body.count
        let matches = Masking.scrub(&body, detector: detector)
        #expect(matches.count == 4)
        #expect(body.count == length)
        #expect(String(decoding: body, as: UTF8.self) == #"{"c":"****-****-****-****","s":"***-**-****","m":"****.***@*******.***","n":"********"}"#)
    }

    @Test("uses the configured mask character and leaves clean text alone")
    func maskCharacter() {
        var body = Array("card 4111111111111111 ok".utf8)
        Masking.scrub(&body, detector: PIIDetector(), with: UInt8(ascii: "X"))
        #expect(String(decoding: body, as: UTF8.self) == "card XXXXXXXXXXXXXXXX ok")
        var clean = Array("nothing here 1234".utf8)
        #expect(Masking.scrub(&clean, detector: PIIDetector()).isEmpty)
        #expect(String(decoding: clean, as: UTF8.self) == "nothing here 1234")
    }
}

@Suite("Query strings")
struct QueryStringTests {
    @Test("decodes values before scanning and re-encodes masked ones")
    func scrubsQuery() {
        let result = QueryString.scan(path: "/search?q=hello&email=jane%40example.com&card=4111+1111+1111+1111#top", detector: PIIDetector(), mask: UInt8(ascii: "*"))
        #expect(result.counts[.email] == 1)
        #expect(result.counts[.card] == 1)
        #expect(result.maskedPath == "/search?q=hello&email=****%40*******.***&card=****%20****%20****%20****#top")
    }

    @Test("reports without masking, and leaves paths without a query alone")
    func reportOnly() {
        let result = QueryString.scan(path: "/a?ssn=123-45-6789", detector: PIIDetector())
        #expect(result.counts[.ssn] == 1)
        #expect(result.maskedPath == nil)
        #expect(QueryString.scan(path: "/plain", detector: PIIDetector()).counts.total == 0)
    }
}
