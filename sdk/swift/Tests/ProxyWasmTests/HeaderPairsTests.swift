import ProxyWasm
import Testing

@Suite("Serialized header pairs")
struct HeaderPairsTests {
    @Test("encodes the Proxy-Wasm map format byte for byte")
    func encodes() {
        let bytes = SerializedPairs.encode([HeaderPair(":method", "GET"), HeaderPair("x", "")])
        let expected: [UInt8] =
            [2, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
            + Array(":method".utf8) + [0] + Array("GET".utf8) + [0] + Array("x".utf8) + [0, 0]
        #expect(bytes == expected)
    }

    @Test("decodes what it encodes")
    func roundTrips() {
        let pairs = [HeaderPair(":authority", "collector:9000"), HeaderPair("set-cookie", "a=1"), HeaderPair("set-cookie", "b=2")]
        #expect(SerializedPairs.decode(SerializedPairs.encode(pairs)) == pairs)
        #expect(SerializedPairs.decode(SerializedPairs.encode([])) == [])
    }

    @Test("never reads past the end of a malformed buffer")
    func malformed() {
        #expect(SerializedPairs.decode([1, 0]) == [])
        #expect(SerializedPairs.decode([200, 0, 0, 0, 1, 0, 0, 0]) == [])
        var truncated = SerializedPairs.encode([HeaderPair("name", "value")])
        truncated.removeLast(3)
        #expect(SerializedPairs.decode(truncated) == [])
    }
}
