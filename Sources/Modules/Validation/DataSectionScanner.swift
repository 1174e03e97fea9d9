/// A fast path for the data section, which WasmParser decodes slowly when it has many segments.
///
/// Why it exists: WasmParser 0.4.2 decodes each data segment's offset expression through
/// unspecialized generic code, about 1 µs per segment. A Go module has tens of thousands of
/// segments (38,065 in go-sdk-http-headers.wasm, ~40 ms), more than the whole validation budget.
///
/// It is deliberately no general parser. It accepts only the shape that compilers emit, a strict
/// subset of what WasmParser accepts: segments of kind 0, 1 or 2 whose offset is a single
/// `i32.const` or `global.get` followed by `end`, with every LEB128 at most 4 bytes long, ending
/// exactly at the end of the section. Anything else returns nil, and the caller then decodes the
/// whole module with WasmParser, whose verdict is the one reported. So this scanner can make
/// validation faster, never more lenient.
enum DataSectionScanner {
    /// The number of segments, when the section has only the shapes described above.
    static func segmentCount(_ bytes: [UInt8], payload: Range<Int>) -> Int? {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = Reader(buffer: buffer, position: payload.lowerBound, end: payload.upperBound)
            guard let count = reader.unsigned() else { return nil }
            for _ in 0..<count {
                switch reader.unsigned() {
                case 0:
                    guard reader.offsetExpression() else { return nil }
                case 1:
                    break
                case 2:
                    guard reader.unsigned() != nil, reader.offsetExpression() else { return nil }
                default:
                    return nil
                }
                guard let length = reader.unsigned(), reader.skip(Int(length)) else { return nil }
            }
            return reader.position == reader.end ? Int(count) : nil
        }
    }

    private struct Reader {
        let buffer: UnsafeBufferPointer<UInt8>
        var position: Int
        let end: Int

        /// A LEB128 of at most 4 bytes, which can neither overflow 32 bits nor be over-long
        /// in a way WasmParser rejects.
        mutating func unsigned() -> UInt32? {
            var result: UInt32 = 0
            for shift in stride(from: UInt32(0), to: 28, by: 7) {
                guard position < end else { return nil }
                let byte = buffer[position]
                position += 1
                result |= UInt32(byte & 0x7f) << shift
                if byte & 0x80 == 0 { return result }
            }
            return nil
        }

        /// `i32.const n` or `global.get x`, then `end`.
        mutating func offsetExpression() -> Bool {
            guard position < end else { return false }
            let opcode = buffer[position]
            position += 1
            guard opcode == 0x41 || opcode == 0x23, unsigned() != nil, position < end else { return false }
            let terminator = buffer[position]
            position += 1
            return terminator == 0x0b
        }

        mutating func skip(_ count: Int) -> Bool {
            guard count <= end - position else { return false }
            position += count
            return true
        }
    }
}
