import PIIGuardLogic
import Testing

/// The names and texts of the matches `detector` finds in `text`.
func found(_ text: String, _ detector: PIIDetector = PIIDetector()) -> [String] {
    let bytes = Array(text.utf8)
    return detector.matches(in: bytes).map { match in
        detector.name(of: match.kind) + ":" + String(decoding: bytes[match.start..<match.end], as: UTF8.self)
    }
}

@Suite("Card numbers")
struct CardDetectorTests {
    @Test("finds card numbers written in the usual ways", arguments: [
        ("pay 4111111111111111 now", "card:4111111111111111"),
        ("pay 4111 1111 1111 1111.", "card:4111 1111 1111 1111"),
        ("{\"pan\":\"5555-5555-5555-4444\"}", "card:5555-5555-5555-4444"),
        ("amex 3782 822463 10005", "card:3782 822463 10005"),
        ("visa13 4222222222222", "card:4222222222222"),
        ("19 digits 6011 0009 9013 9424 500", "card:6011 0009 9013 9424"),
    ])
    func finds(text: String, expected: String) {
        #expect(found(text) == [expected])
    }

    @Test("ignores what is not a card number", arguments: [
        "4111 1111 1111 1112",          // fails Luhn
        "411111111111",                 // 12 digits
        "41111111111111111111111",      // 23 digits in one run
        "order4111111111111111",        // glued to a word
        "4111111111111111abc",          // glued to a word
        "4111-1111 1111-1111",          // mixed separators, neither half long enough
        "4111  1111 1111 1111",         // double space breaks the run
        "phone 555-0100, zip 94107",
    ])
    func ignores(text: String) {
        #expect(found(text).allSatisfy { !$0.hasPrefix("card:") }, "\(found(text))")
    }

    @Test("finds a card among other numbers in the same run")
    func findsInsideLongerRun() {
        #expect(found("call 555 1234 4111 1111 1111 1111 thanks") == ["card:4111 1111 1111 1111"])
    }
}

@Suite("SSNs")
struct SSNDetectorTests {
    @Test("finds valid SSNs", arguments: ["123-45-6789", "078 05 1120", "665-01-0001", "899-99-9999"])
    func finds(ssn: String) {
        #expect(found("ssn: \(ssn).") == ["ssn:\(ssn)"])
    }

    @Test("excludes invalid areas, groups and serials", arguments: [
        "000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000",
        "123-45-67890", "1234-45-6789", "123-456-789", "123-45 6789", "123-45-6789-01", "a123-45-6789",
    ])
    func excludes(text: String) {
        #expect(found(text).allSatisfy { !$0.hasPrefix("ssn:") }, "\(found(text))")
    }

    @Test("an SSN and a card in one run are both found")
    func ssnThenCard() {
        #expect(found("123-45-6789 4111 1111 1111 1111") == ["ssn:123-45-6789", "card:4111 1111 1111 1111"])
        #expect(found("4111 1111 1111 1111 123-45-6789") == ["card:4111 1111 1111 1111", "ssn:123-45-6789"])
    }
}

@Suite("E-mail addresses")
struct EmailDetectorTests {
    @Test("finds addresses", arguments: [
        ("mail jane.doe@example.com now", "email:jane.doe@example.com"),
        ("<a+tag@sub.example.co.uk>", "email:a+tag@sub.example.co.uk"),
        ("end of sentence x_y%z@ex-ample.org.", "email:x_y%z@ex-ample.org"),
        ("\"user\":\"first.last@corp.io\"", "email:first.last@corp.io"),
        (".lead@example.com", "email:lead@example.com"),
    ])
    func finds(text: String, expected: String) {
        #expect(found(text) == [expected])
    }

    @Test("ignores what is not an address", arguments: [
        "@example.com", "jane@", "jane@localhost", "jane@example.c", "jane@-example.com",
        "jane@example.123", "a@b", "trailing.@example.com", "double@@example.com", "twitter @handle",
    ])
    func ignores(text: String) {
        #expect(found(text).allSatisfy { !$0.hasPrefix("email:") }, "\(found(text))")
    }
}

@Suite("Literal patterns and detector selection")
struct LiteralDetectorTests {
    @Test("finds literals, ignoring case unless asked")
    func literals() {
        let detector = PIIDetector(literals: [
            LiteralPattern(name: "codename", literal: "BlueBird"),
            LiteralPattern(name: "exact", literal: "Nightjar", caseSensitive: true),
        ])
        #expect(found("the bluebird and BLUEBIRD fly", detector) == ["codename:bluebird", "codename:BLUEBIRD"])
        #expect(found("nightjar Nightjar", detector) == ["exact:Nightjar"])
    }

    @Test("detectors can be switched off")
    func selection() {
        let onlyEmail = PIIDetector(cards: false, emails: true, ssns: false)
        #expect(found("4111111111111111 123-45-6789 a@example.com", onlyEmail) == ["email:a@example.com"])
    }

    @Test("overlapping matches keep the earlier one")
    func overlaps() {
        let detector = PIIDetector(literals: [LiteralPattern(name: "corp", literal: "example.com")])
        #expect(found("jane@example.com", detector) == ["email:jane@example.com"])
    }
}

@Suite("Digit runs")
struct DigitRunTests {
    @Test("short runs (skipped without recording their groups) do not hide matches beside them")
    func shortRuns() {
        let text = "{\"id\":\"ORD-2026-100037\",\"at\":\"2026-11-29T17:05:00Z\",\"qty\":3,\"sum\":\"12.50\","
            + "\"ssn\":\"123-45-6789\",\"n\":\"12-34 5678\",\"pan\":\"4111 1111 1111 1111\",\"zip\":94107}"
        #expect(found(text) == ["ssn:123-45-6789", "card:4111 1111 1111 1111"])
    }

    @Test("eight digits make no SSN, nine can", arguments: [
        ("12-34-5678 and 123-45-678", [String]()),
        ("123-45-6789", ["ssn:123-45-6789"]),
        ("x 123 45 6789 y", ["ssn:123 45 6789"]),
    ])
    func threshold(text: String, expected: [String]) {
        #expect(found(text) == expected)
    }
}
