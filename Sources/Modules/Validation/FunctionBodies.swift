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

    /// Below this many bytes of code, starting threads costs more than it saves.
    static let parallelThreshold = 256 * 1024

    /// Decodes all of `codes`, running `sideWork` on another core meanwhile. Returns the failures
    /// in body order, and what `sideWork` returned.
    static func decode<Side: Sendable>(
        _ codes: [Code], alongside sideWork: @Sendable () -> Side
    ) -> (failures: [Failure], side: Side) {
        let byteCount = codes.reduce(0) { $0 + $1.expression.count }
        guard byteCount >= parallelThreshold else {
            let failures = codes.indices.compactMap { position in
                problem(in: codes[position]).map { Failure(position: position, detail: $0) }
            }
            return (failures, sideWork())
        }
        let chunks = chunk(codes, byteCount: byteCount)
        let failures = Mutex<[Failure]>([])
        let side = Mutex<Side?>(nil)
        // Item 0 is the side work, so that the longest single task starts first.
        DispatchQueue.concurrentPerform(iterations: chunks.count + 1) { item in
            guard item > 0 else {
                let result = sideWork()
                side.withLock { $0 = result }
                return
            }
            var found: [Failure] = []
            for position in chunks[item - 1] {
                if let detail = problem(in: codes[position]) { found.append(Failure(position: position, detail: detail)) }
            }
            if !found.isEmpty { failures.withLock { $0 += found } }
        }
        return (failures.withLock { $0 }.sorted { $0.position < $1.position }, side.withLock { $0! })
    }

    /// Ranges of consecutive bodies of about equal byte size, a few per core so that a core that
    /// finishes early takes another.
    private static func chunk(_ codes: [Code], byteCount: Int) -> [Range<Int>] {
        let chunkCount = max(1, ProcessInfo.processInfo.activeProcessorCount * 4)
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
    static func problem(in code: Code) -> String? {
        var parser = ExpressionParser(code: code)
        var blocks = BlockDepth()
        do {
            while let instruction = try parser.parse() {
                guard blocks.depth > 0 else {
                    return "instructions continue after the body's final `end`, at offset \(SectionFraming.hex(parser.offset))"
                }
                instruction(visitor: &blocks)
            }
        } catch {
            return "\(error)"
        }
        return blocks.depth == 0 ? nil : "the body ends with \(blocks.depth) block(s) still open"
    }
}

/// Counts open blocks: the body itself, plus every `block`, `loop`, `if` and `try_table` not yet
/// closed by its `end`.
private struct BlockDepth: InstructionVisitor {
    typealias VisitorError = Never
    var binaryOffset = 0
    var depth = 1

    mutating func visitBlock(blockType: BlockType) { depth += 1 }
    mutating func visitLoop(blockType: BlockType) { depth += 1 }
    mutating func visitIf(blockType: BlockType) { depth += 1 }
    mutating func visitTryTable(blockType: BlockType, tryCatch: TryCatch) { depth += 1 }
    mutating func visitEnd() { depth -= 1 }
}
