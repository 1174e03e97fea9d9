import Foundation
@testable import Modules
import Testing
import WasmParser

@Suite("Module validation refuses what Envoy refuses, and says why")
struct ModuleValidatorRejectionTests {
    typealias Samples = ValidationSamples

    @Test("a module without an ABI version marker")
    func noMarker() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(marker: "")))
        let problem = try #require(error.problems.first)
        #expect(error.problems.count == 1)
        #expect(problem.code == .missingABIVersion)
        #expect(problem.message.contains("proxy_abi_version_0_2_1"))
        #expect(problem.envoyError == "Missing or unknown Proxy-Wasm ABI version")
    }

    @Test("a module whose only marker is a version Envoy does not know")
    func unknownMarker() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(marker: #"(func (export "proxy_abi_version_0_3_0"))"#)))
        #expect(error.problems.map(\.code) == [.missingABIVersion])
        #expect(error.problems[0].message.contains("does not know proxy_abi_version_0_3_0"))
    }

    @Test("a module with two ABI version markers")
    func twoMarkers() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(marker: """
            (func (export "proxy_abi_version_0_2_1"))
            (func (export "proxy_abi_version_0_1_0"))
            """)))
        let problem = try #require(error.problems.first { $0.code == .multipleABIVersions })
        #expect(problem.message.contains("proxy_abi_version_0_2_1"))
        #expect(problem.message.contains("proxy_abi_version_0_1_0"))
    }

    @Test("a marker that is not a function () -> ()")
    func markerWithParameters() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(
            marker: #"(func (export "proxy_abi_version_0_2_1") (param i32))"#)))
        #expect(error.problems.map(\.code) == [.badABIMarker])
        #expect(error.problems[0].message
            == "export proxy_abi_version_0_2_1 has signature (i32) -> (), but an ABI version marker must be () -> ()")
    }

    @Test("a module without an allocator")
    func noAllocator() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(allocator: "")))
        #expect(error.problems.map(\.code) == [.missingAllocator])
        #expect(error.problems[0].message.contains("malloc or proxy_on_memory_allocate (i32) -> i32"))
        #expect(error.problems[0].envoyError == "Wasm module is missing malloc function")
    }

    @Test("an allocator with the wrong signature")
    func allocatorWithWrongSignature() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(
            allocator: #"(func (export "malloc") (param i64) (result i32) (i32.const 0))"#)))
        #expect(error.problems.map(\.code) == [.badCallbackSignature])
        #expect(error.problems[0].subject == "malloc")
        #expect(error.problems[0].envoyError == "Bad function signature for: malloc")
    }

    @Test("an import Envoy does not provide")
    func unknownImport() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(
            imports: #"(import "env" "proxy_frobnicate" (func (param i32) (result i32)))"#)))
        #expect(error.problems.map(\.code) == [.missingImport])
        #expect(error.problems[0].subject == "env.proxy_frobnicate")
        #expect(error.problems[0].message == "import env.proxy_frobnicate is not a function Envoy provides for ABI 0.2.1")
        #expect(error.problems[0].envoyError?.contains("missing import") == true)
    }

    @Test("an import from a module Envoy does not provide")
    func importFromUnknownModule() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(
            imports: #"(import "wasi:http/outgoing-handler" "handle" (func (param i32) (result i32)))"#)))
        #expect(error.problems.map(\.code) == [.missingImport])
        #expect(error.problems[0].message.contains("which Envoy does not provide (only env, wasi_snapshot_preview1, wasi_unstable)"))
    }

    @Test("an import that exists only for another ABI version")
    func importFromAnotherABIVersion() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(
            imports: #"(import "env" "proxy_continue_request" (func (result i32)))"#)))
        #expect(error.problems.map(\.code) == [.missingImport])
        #expect(error.problems[0].message
            == "import env.proxy_continue_request is not provided for ABI 0.2.1; Envoy provides it only for ABI 0.1.0")
    }

    @Test("an import with the wrong signature")
    func importWithWrongSignature() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(
            imports: #"(import "env" "proxy_log" (func (param i32 i32) (result i32)))"#)))
        #expect(error.problems.map(\.code) == [.importTypeMismatch])
        #expect(error.problems[0].message
            == "import env.proxy_log has signature (i32, i32) -> i32, but Envoy provides (i32, i32, i32) -> i32 for ABI 0.2.1")
        #expect(error.problems[0].envoyError?.contains("import type mismatch") == true)
    }

    @Test("a WASI import with the wrong signature, under either WASI module name")
    func wasiImportWithWrongSignature() throws {
        for module in ["wasi_snapshot_preview1", "wasi_unstable"] {
            let error = try Samples.rejection(Samples.wasm(Samples.filter(
                imports: #"(import "\#(module)" "clock_time_get" (func (param i32 i32 i32) (result i32)))"#)))
            #expect(error.problems.map(\.code) == [.importTypeMismatch])
            #expect(error.problems[0].message.contains("but Envoy provides (i32, i64, i32) -> i32"))
        }
    }

    @Test("a global import, which Envoy cannot satisfy")
    func globalImport() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(
            imports: #"(import "env" "__stack_pointer" (global (mut i32)))"#)))
        #expect(error.problems.map(\.code) == [.missingImport])
        #expect(error.problems[0].message.contains("Envoy provides no globals"))
    }

    @Test("a callback export with the wrong signature")
    func callbackWithWrongSignature() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(
            callbacks: #"(func (export "proxy_on_request_headers") (param i32 i32) (result i32) (i32.const 0))"#)))
        #expect(error.problems.map(\.code) == [.badCallbackSignature])
        #expect(error.problems[0].subject == "proxy_on_request_headers")
        #expect(error.problems[0].message
            == "export proxy_on_request_headers has signature (i32, i32) -> i32, but Envoy calls it as (i32, i32, i32) -> i32 for ABI 0.2.1")
        #expect(error.problems[0].envoyError == "Bad function signature for: proxy_on_request_headers")
    }

    @Test("a truncated file")
    func truncatedFile() throws {
        let whole = try Samples.wasm(Samples.filter())
        let error = try Samples.rejection(whole.prefix(whole.count - 5))
        #expect(error.problems.map(\.code) == [.truncated])
        #expect(error.problems[0].message.hasPrefix("the module is truncated: its code section"))
        #expect(error.problems[0].envoyError == "Failed to parse corrupted Wasm module")
    }

    @Test("a truncated real module", .enabled(if: ValidationSamples.sharedModulesExist, "../shared/testdata/wasm is not present"))
    func truncatedRealModule() throws {
        let whole = try Samples.shared("rust-sdk-hello-world.wasm")
        let error = try Samples.rejection(whole.prefix(whole.count / 2))
        #expect(error.problems.map(\.code) == [.truncated])
    }

    @Test("a function body holding an illegal opcode")
    func corruptFunctionBody() throws {
        // `i32.const 7; drop` in proxy_on_context_create; 0xff is no opcode.
        let module = try Samples.patching(Samples.wasm(Samples.filter()), [0x41, 0x07, 0x1a], with: [0x41, 0x07, 0xff])
        let error = try Samples.rejection(module)
        #expect(error.problems.map(\.code) == [.corruptFunctionBody])
        #expect(error.problems[0].subject == "function 4")
        #expect(error.problems[0].message.hasPrefix("the body of function 4 is corrupt: "))
        #expect(error.problems[0].envoyError == "Failed to load Wasm bytecode")
    }

    @Test("a function body that goes on after its final end")
    func bodyWithStrayEnd() throws {
        // `i32.const 7; drop; end` becomes `i32.const 7; end; end`.
        let module = try Samples.patching(Samples.wasm(Samples.filter()), [0x41, 0x07, 0x1a], with: [0x41, 0x07, 0x0b])
        let error = try Samples.rejection(module)
        #expect(error.problems.map(\.code) == [.corruptFunctionBody])
        #expect(error.problems[0].message.contains("instructions continue after the body's final `end`"))
    }

    @Test("a function body that ends inside a block")
    func bodyWithUnclosedBlock() throws {
        // `i32.const 7; drop; end` becomes `block; nop; end`: the body's own end is missing.
        let module = try Samples.patching(
            Samples.wasm(Samples.filter()), [0x41, 0x07, 0x1a, 0x0b], with: [0x02, 0x40, 0x01, 0x0b])
        let error = try Samples.rejection(module)
        #expect(error.problems.map(\.code) == [.corruptFunctionBody])
        #expect(error.problems[0].message.hasSuffix("the body ends with 1 block(s) still open"))
    }

    @Test("a corrupt body in a real module is named from its name section",
          .enabled(if: ValidationSamples.sharedModulesExist, "../shared/testdata/wasm is not present"))
    func corruptBodyInRealModule() throws {
        var bytes = [UInt8](try Samples.shared("go-sdk-http-headers.wasm"))
        let structure = try ModuleStructure.decode(bytes, framing: SectionFraming.frame(bytes))
        // 0xff is no opcode; put it where the 1000th body's first instruction starts.
        bytes[structure.codes[1000].expression.startIndex] = 0xff
        let error = try Samples.rejection(Data(bytes))
        let index = structure.importedFunctionTypeIndices.count + 1000
        #expect(error.problems.map(\.code) == [.corruptFunctionBody])
        #expect(error.problems[0].subject?.hasPrefix("function \(index) (") == true)
    }

    @Test("a corrupt data segment, which the fast scanner hands to WasmParser")
    func corruptDataSegment() throws {
        let module = try Samples.wasm(Samples.filter(extra: #"(data (i32.const 16) "abc")"#))
        // Segment kind 0, i32.const 16, end, 3 bytes: the kind becomes 7, which does not exist.
        let corrupt = try Samples.patching(module, [0x00, 0x41, 0x10, 0x0b, 0x03], with: [0x07, 0x41, 0x10, 0x0b, 0x03])
        let error = try Samples.rejection(corrupt)
        #expect(error.problems.map(\.code) == [.malformed])
        #expect(error.problems[0].message.hasPrefix("the module is corrupt: "))
    }

    @Test("a module that exports one name twice")
    func duplicateExport() throws {
        let error = try Samples.rejection(Samples.wasm(Samples.filter(
            extra: #"(func (export "proxy_on_context_create") (param i32 i32))"#)))
        #expect(error.problems.map(\.code) == [.malformed])
        #expect(error.problems[0].message == "the module is corrupt: it exports the name proxy_on_context_create twice")
    }

    @Test("a file that is not WebAssembly", arguments: [
        Data("#!/bin/sh\necho hello\n".utf8),
        Data([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        Data(),
    ])
    func notWasm(bytes: Data) throws {
        let error = try Samples.rejection(bytes)
        #expect(error.problems.map(\.code) == [.notWasm])
        #expect(error.problems[0].message.contains("not WebAssembly"))
    }

    @Test("a WebAssembly component rather than a core module")
    func component() throws {
        let error = try Samples.rejection(Data([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]))
        #expect(error.problems.map(\.code) == [.notWasm])
        #expect(error.problems[0].message.contains("component"))
    }

    @Test("every problem is listed, not only the first")
    func everyProblemListed() throws {
        let module = try Samples.wasm(Samples.filter(
            marker: "", allocator: "",
            imports: """
                (import "env" "proxy_log" (func (param i32 i32) (result i32)))
                (import "env" "proxy_nope" (func))
                """,
            callbacks: #"(func (export "proxy_on_tick") (param i32) (result i32) (i32.const 0))"#))
        let error = try Samples.rejection(module)
        #expect(error.problems.map(\.code)
            == [.missingABIVersion, .missingAllocator, .importTypeMismatch, .missingImport, .badCallbackSignature])
        #expect(error.description.hasPrefix("Envoy would refuse this module (5 problems):"))
        #expect(error.description.contains("  - import env.proxy_log has signature (i32, i32) -> i32, but Envoy provides (i32, i32, i32) -> i32"))
    }
}
