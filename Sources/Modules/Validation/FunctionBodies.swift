import Dispatch
import Foundation
import Synchronization
import WasmParser

/// Decodes every instruction of every function body, the check that tells a module V8 can load
/// from one it refuses with "Failed to load Wasm bytecode".
///
/// Bodies are independent, so a large module is split into chunks of similar byte size that the
/// cores take in turn; a small one is decoded on the calling thread.
enum FunctionBodies {
    /// A body that failed to decode: its position in the code section and what went wrong.
    struct Failure: Sendable {
        let position: Int
        let detail: String
    }

    /// Decodes all of `codes`; returns the failures in body order, so that the report does not
    /// depend on which core finished first.
    static func decode(_ codes: [Code]) -> [Failure] {
        let byteCount = codes.reduce(0) { $0 + $1.expression.count }
        guard byteCount >= ParallelWork.minimumBytes else {
            return codes.indices.compactMap { position in
                problem(in: codes[position]).map { Failure(position: position, detail: $0) }
            }
        }
        let chunks = chunk(codes, byteCount: byteCount)
        let failures = Mutex<[Failure]>([])
        DispatchQueue.concurrentPerform(iterations: chunks.count) { item in
            var found: [Failure] = []
            for position in chunks[item] {
                if let detail = problem(in: codes[position]) { found.append(Failure(position: position, detail: detail)) }
            }
            if !found.isEmpty { failures.withLock { $0 += found } }
        }
        return failures.withLock { $0 }.sorted { $0.position < $1.position }
    }

    /// Ranges of consecutive bodies of about equal byte size, many per core, so that a core that
    /// finishes early takes another; they are small (about 1 ms each for a 3.4 MB module on 2
    /// cores) because on a shared machine one core is often slowed down, and the last chunk
    /// taken is time the other core may spend waiting.
    private static func chunk(_ codes: [Code], byteCount: Int) -> [Range<Int>] {
        let chunkCount = max(1, ProcessInfo.processInfo.activeProcessorCount * 16)
        let target = max(1, byteCount / chunkCount)
        var chunks: [Range<Int>] = []
        var start = 0
        var bytes = 0
        for position in codes.indices {
            bytes += codes[position].expression.count
            if bytes >= target {
                chunks.append(start..<position + 1)
                start = position + 1
                bytes = 0
            }
        }
        if start < codes.count { chunks.append(start..<codes.count) }
        return chunks
    }

    /// Why one body cannot be decoded, or nil when every instruction decodes and its blocks nest.
    ///
    /// Block nesting is tracked from each instruction's first byte, read from the module at the
    /// offset where WasmParser starts the instruction: `block`, `loop`, `if` and `try_table` open
    /// a block and `end` closes one. Those opcodes are single bytes, so this is exact, and several
    /// times cheaper than an instruction visitor.
    static func problem(in code: Code) -> String? {
        var parser = ExpressionParser(code: code)
        let body = code.expression
        // WasmParser's offsets index the module's bytes, which `body` slices. Should that ever
        // change, nesting is not tracked rather than tracked wrongly.
        let tracksBlocks = parser.offset == body.startIndex
        var depth = 1
        do {
            while depth > 0 {
                let start = parser.offset
                guard try parser.parse() != nil else { break }
                guard tracksBlocks else { continue }
                switch body[start] {
                case 0x02, 0x03, 0x04, 0x1f: depth += 1
                case 0x0b: depth -= 1
                default: break
                }
            }
            let end = parser.offset
            if depth == 0, try parser.parse() != nil {
                return "instructions continue after the body's final `end`, at offset \(SectionFraming.hex(end))"
            }
        } catch {
            return "\(error)"
        }
        guard tracksBlocks, depth > 0 else { return nil }
        return "the body ends with \(depth) block(s) still open"
    }
}
