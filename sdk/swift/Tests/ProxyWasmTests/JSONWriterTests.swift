import ProxyWasm
import Testing

@Suite("JSON writer")
struct JSONWriterTests {
    @Test("writes compact JSON that reads back the same")
    func roundTrips() throws {
        let value = JSONValue.object([
            JSONMember("host", .string("api.example.com")),
            JSONMember("degraded", .bool(true)),
            JSONMember("errors", .integer(-3)),
            JSONMember("p95", .number(812.5)),
            JSONMember("tags", .array([.string("a\"b"), .null])),
        ])
        let text = value.serialized
        #expect(text == #"{"host":"api.example.com","degraded":true,"errors":-3,"p95":812.5,"tags":["a\"b",null]}"#)
        #expect(try JSON.parse(text) == value)
    }

    @Test("escapes control characters")
    func escapes() {
        #expect(JSONValue.string("line\nnext\u{01}").serialized == #""line\nnext\u0001""#)
    }

    @Test("writes fractions with up to six decimals, and non-finite numbers as null")
    func numbers() {
        #expect(JSONValue.number(0.1).serialized == "0.1")
        #expect(JSONValue.number(2).serialized == "2")
        #expect(JSONValue.number(-1.0000004).serialized == "-1")
        #expect(JSONValue.number(3.14159265).serialized == "3.141593")
        #expect(JSONValue.number(.infinity).serialized == "null")
    }
}
