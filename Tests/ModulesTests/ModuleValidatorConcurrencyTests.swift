import Foundation
@testable import Modules
import Testing
import WasmParser

/// Bodies of a large module are decoded on every core; the report must not depend on which core
/// finished first.
@Suite("Concurrent body decoding reports as a serial decoder would")
struct ModuleValidatorConcurrencyTests {
    typealias Samples = ValidationSamples

    /// A filter with `count` extra functions of `i32.const` padding, well over the size at which
    /// bodies are decoded in parallel.
    static func manyFunctions(_ count: Int) throws -> Data {
        let body = String(repeating: "(drop (i32.const 1000000))", count: 40)
        let functions = (0..<count).map { "(func $f\($0) \(body))" }.joined(separator: "\n")
        return try Samples.wasm(Samples.filter(extra: functions))
    }

    /// Puts 0xff, no opcode, at the start of the bodies of the given defined functions.
    static func corrupting(_ data: Data, bodies positions: [Int]) throws -> Data {
        var bytes = [UInt8](data)
        let structure = try ModuleStructure.decode(bytes, framing: SectionFraming.frame(bytes))
        for position in positions { bytes[structure.codes[position].expression.startIndex] = 0xff }
        return Data(bytes)
    }

    @Test("a bad body late in a many-function module is reported the same way every time")
    func lateBadBody() throws {
        let module = try Self.manyFunctions(3000)
        #expect(module.count > ParallelWork.minimumBytes)
        let late = 2990
        let corrupt = try Self.corrupting(module, bodies: [late])
        // What a decoder going through the bodies one by one, on one thread, says about it.
        let bytes = [UInt8](corrupt)
        let structure = try ModuleStructure.decode(bytes, framing: SectionFraming.frame(bytes))
        let serial = structure.codes.indices.compactMap { position in
            FunctionBodies.problem(in: structure.codes[position]).map { (position, $0) }
        }
        #expect(serial.map(\.0) == [late])
        let detail = try #require(serial.first?.1)
        #expect(detail.contains("Illegal opcode"))

        let first = try Samples.rejection(corrupt)
        let index = structure.importedFunctionTypeIndices.count + late
        #expect(first.problems.map(\.code) == [.corruptFunctionBody])
        #expect(first.problems[0].subject?.hasPrefix("function \(index)") == true)
        #expect(first.problems[0].message.hasPrefix("the body of function \(index)"))
        #expect(first.problems[0].message.hasSuffix(" is corrupt: \(detail)"))
        for _ in 0..<20 {
            #expect(try Samples.rejection(corrupt) == first)
        }
    }

    @Test("several bad bodies are listed in body order, the first five, then a count")
    func manyBadBodies() throws {
        let module = try Self.manyFunctions(3000)
        // Spread over the whole code section, so they fall in different chunks; listed out of order.
        let positions = [2900, 40, 1500, 2999, 700, 2200, 10]
        let corrupt = try Self.corrupting(module, bodies: positions)
        let first = try Samples.rejection(corrupt)
        let imported = 1  // env.proxy_log
        let expected = positions.sorted().prefix(5).map { "function \(imported + $0)" }
        #expect(first.problems.prefix(5).compactMap { $0.subject?.split(separator: " ").prefix(2).joined(separator: " ") } == expected)
        #expect(first.problems.count == 6)
        #expect(first.problems[5].message == "2 more function bodies are corrupt")
        for _ in 0..<20 {
            #expect(try Samples.rejection(corrupt) == first)
        }
    }
}
