import ProxyWasm
import Testing

@Suite("JSON reader")
struct JSONReaderTests {
    @Test("reads an object with every kind of value, in document order")
    func readsObject() throws {
        let value = try JSON.parse(#"{"mode": "scrub", "limit": 1024, "ratio": 0.25, "on": true, "off": false, "none": null, "list": [1, "two", [3]]}"#)
        #expect(value["mode"]?.stringValue == "scrub")
        #expect(value["limit"] == .integer(1024))
        #expect(value["limit"]?.intValue == 1024)
        #expect(value["ratio"]?.doubleValue == 0.25)
        #expect(value["on"]?.boolValue == true)
        #expect(value["off"]?.boolValue == false)
        #expect(value["none"]?.isNull == true)
        #expect(value["list"]?[1]?.stringValue == "two")
        #expect(value["list"]?[2]?[0]?.intValue == 3)
        #expect(value.members?.map(\.key) == ["mode", "limit", "ratio", "on", "off", "none", "list"])
        #expect(value["missing"] == nil)
    }

    @Test("resolves escapes, including surrogate pairs")
    func readsEscapes() throws {
        let value = try JSON.parse(#"["a\"b\\c\/d\n\t", "\u00e9\u4e2d", "\ud83d\ude00", "caf\u00E9"]"#)
        #expect(value[0]?.stringValue == "a\"b\\c/d\n\t")
        #expect(value[1]?.stringValue == "é中")
        #expect(value[2]?.stringValue == "😀")
        #expect(value[3]?.stringValue == "café")
    }

    @Test("reads numbers", arguments: [
        ("0", JSONValue.integer(0)),
        ("-7", .integer(-7)),
        ("9223372036854775807", .integer(Int64.max)),
        ("-9223372036854775808", .integer(Int64.min)),
        ("1.5", .number(1.5)),
        ("-0.125", .number(-0.125)),
        ("1e3", .number(1000)),
        ("2.5E-2", .number(0.025)),
        ("18446744073709551616", .number(18446744073709551616.0)),
    ])
    func readsNumbers(text: String, expected: JSONValue) throws {
        #expect(try JSON.parse(text) == expected)
    }

    @Test("top-level scalars and surrounding whitespace")
    func readsScalars() throws {
        #expect(try JSON.parse(" \n\"x\"\t ") == .string("x"))
        #expect(try JSON.parse("true") == .bool(true))
        #expect(try JSON.parse("[]") == .array([]))
        #expect(try JSON.parse("{}") == .object([]))
    }

    @Test("refuses broken documents and says where", arguments: [
        ("", 0, "unexpected end of input"),
        ("{", 1, "expected a string key"),
        (#"{"a" 1}"#, 5, "expected ':'"),
        (#"{"a": 1,}"#, 8, "expected a string key"),
        ("[1, 2", 5, "expected ',' or ']'"),
        ("[1 2]", 3, "expected ',' or ']'"),
        (#""abc"#, 0, "unterminated string"),
        (#""a\qb""#, 3, "invalid escape"),
        (#""\u12G4""#, 5, "invalid hex digit"),
        (#""\ud800""#, 7, "unpaired surrogate"),
        ("\"a\u{01}b\"", 2, "control character"),
        ("01", 1, "leading zero"),
        ("1.", 2, "expected a digit after the decimal point"),
        ("1e+", 3, "expected a digit in the exponent"),
        ("-", 1, "expected a digit"),
        ("tru", 0, "invalid literal"),
        ("nul", 0, "invalid literal"),
        ("{} x", 3, "unexpected data after the document"),
        ("@", 0, "unexpected character"),
    ])
    func refusesBrokenInput(text: String, offset: Int, reason: String) {
        #expect {
            _ = try JSON.parse(text)
        } throws: { error in
            guard let error = error as? JSONError else { return false }
            return error.offset == offset && error.reason.contains(reason)
        }
    }

    @Test("refuses nesting deeper than the limit")
    func refusesDeepNesting() throws {
        let deep = String(repeating: "[", count: JSON.maximumDepth + 1) + String(repeating: "]", count: JSON.maximumDepth + 1)
        #expect(throws: JSONError.self) { try JSON.parse(deep) }
        let fine = String(repeating: "[", count: JSON.maximumDepth) + String(repeating: "]", count: JSON.maximumDepth)
        _ = try JSON.parse(fine)
    }

    @Test("the error message names the offset")
    func errorMessage() {
        do {
            _ = try JSON.parse(#"{"a" 1}"#)
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "invalid JSON at byte 5: expected ':' after an object key")
        }
    }
}
