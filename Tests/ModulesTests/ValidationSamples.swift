import Foundation
import Modules
import Testing
import WAT

/// Modules for the validation tests: the real ones in ../shared/testdata/wasm, the repository's
/// own WAT files, and small ones written here in WAT.
enum ValidationSamples {
    /// The repository, from this file's place in Tests/ModulesTests.
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// ../shared/testdata/wasm, a sibling of the repository.
    static let sharedModules = repository.deletingLastPathComponent().appendingPathComponent("shared/testdata/wasm")

    static var sharedModulesExist: Bool {
        FileManager.default.fileExists(atPath: sharedModules.appendingPathComponent("go-sdk-http-headers.wasm").path)
    }

    static func shared(_ name: String) throws -> Data {
        try Data(contentsOf: sharedModules.appendingPathComponent(name))
    }

    /// Assembles WebAssembly text into a module.
    static func wasm(_ text: String) throws -> Data {
        Data(try wat2wasm(text))
    }

    /// Assembles a WAT file of the repository, e.g. `examples/add-header.wat`.
    static func repositoryWAT(_ path: String) throws -> Data {
        try wasm(String(contentsOf: repository.appendingPathComponent(path), encoding: .utf8))
    }

    /// A small valid HTTP filter for ABI 0.2.1; `imports`, `exports` and `body` are spliced in
    /// so that each test changes one thing.
    static func filter(
        marker: String = "(func (export \"proxy_abi_version_0_2_1\"))",
        allocator: String = "(func (export \"proxy_on_memory_allocate\") (param i32) (result i32) (i32.const 1024))",
        imports: String = "(import \"env\" \"proxy_log\" (func (param i32 i32 i32) (result i32)))",
        callbacks: String = "(func (export \"proxy_on_request_headers\") (param i32 i32 i32) (result i32) (i32.const 0))",
        extra: String = ""
    ) -> String {
        """
        (module
          \(imports)
          (memory (export "memory") 1)
          \(marker)
          \(allocator)
          \(callbacks)
          (func (export "proxy_on_context_create") (param i32 i32)
            (i32.const 7)
            (drop))
          \(extra)
        )
        """
    }

    /// The bytes of `data` with the first occurrence of `pattern` replaced by `replacement`
    /// (of the same length, so every section keeps its size).
    static func patching(_ data: Data, _ pattern: [UInt8], with replacement: [UInt8]) throws -> Data {
        precondition(pattern.count == replacement.count)
        var bytes = [UInt8](data)
        let start = try #require(bytes.indices.first { bytes[$0...].starts(with: pattern) }, "pattern not found")
        bytes.replaceSubrange(start..<start + pattern.count, with: replacement)
        return Data(bytes)
    }

    /// Runs the validator and returns its error; a module that is accepted fails the test.
    static func rejection(_ module: Data, sourceLocation: SourceLocation = #_sourceLocation) throws -> ModuleValidationError {
        switch Result(catching: { () throws(ModuleValidationError) in try ModuleValidator.validate(module) }) {
        case .success(let report):
            Issue.record("expected a rejection, got a report for ABI \(report.abiVersion)", sourceLocation: sourceLocation)
            throw ValidationTestFailure()
        case .failure(let error):
            return error
        }
    }
}

struct ValidationTestFailure: Error {}
