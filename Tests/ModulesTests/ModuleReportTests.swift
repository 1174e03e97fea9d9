import Foundation
@testable import Modules
import Testing
import WasmParser

@Suite("The validation report")
struct ModuleReportTests {
    typealias Samples = ValidationSamples

    @Test("capabilities come from imports, through the host table")
    func capabilitiesFromImports() throws {
        let module = try Samples.wasm(Samples.filter(imports: """
            (import "env" "proxy_http_call"
              (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
            (import "env" "proxy_define_metric" (func (param i32 i32 i32 i32) (result i32)))
            (import "env" "proxy_increment_metric" (func (param i32 i64) (result i32)))
            (import "env" "proxy_get_shared_data" (func (param i32 i32 i32 i32 i32) (result i32)))
            (import "env" "proxy_set_tick_period_milliseconds" (func (param i32) (result i32)))
            (import "env" "proxy_get_log_level" (func (param i32) (result i32)))
            (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
            (import "wasi_unstable" "random_get" (func (param i32 i32) (result i32)))
            """))
        let report = try ModuleValidator.validate(module)
        #expect(report.capabilities == [.httpCallouts, .logging, .metrics, .sharedData, .timers, .wasi])
        #expect(report.imports.count == 8)
        #expect(report.imports[0].description
            == "env.proxy_http_call (i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> i32")
        #expect(report.imports[2].signature == WasmSignature(parameters: [.i32, .i64], results: [.i32]))
    }

    @Test("exports, size, hash and function count")
    func exportsSizeAndHash() throws {
        let module = try Samples.wasm(Samples.filter())
        let report = try ModuleValidator.validate(module)
        #expect(report.exports.map(\.description) == [
            "memory memory",
            "proxy_abi_version_0_2_1 () -> ()",
            "proxy_on_memory_allocate (i32) -> i32",
            "proxy_on_request_headers (i32, i32, i32) -> i32",
            "proxy_on_context_create (i32, i32) -> ()",
        ])
        #expect(report.size == module.count)
        #expect(report.sha256 == (try LoadedModule(bytes: module, origin: "test")).sha256)
        #expect(report.functionCount == 4)
        #expect(report.allocator == "proxy_on_memory_allocate")
    }

    @Test("callbacks Envoy never calls are warnings, not errors")
    func uncalledCallbacksWarn() throws {
        let module = try Samples.wasm(Samples.filter(callbacks: """
            (func (export "proxy_on_request_header") (param i32 i32 i32) (result i32) (i32.const 0))
            (func (export "proxy_on_grpc_create_initial_metadata") (param i32 i32 i32))
            (func (export "helper") (param i64))
            """))
        let report = try ModuleValidator.validate(module)
        #expect(report.warnings == [
            "export proxy_on_grpc_create_initial_metadata is not a callback Envoy knows; Envoy never calls it",
            "export proxy_on_request_header is not a callback Envoy knows; Envoy never calls it",
        ])
    }

    @Test("a callback of another ABI version is a warning")
    func callbackOfAnotherVersion() throws {
        let module = try Samples.wasm(Samples.filter(
            marker: #"(func (export "proxy_abi_version_0_1_0"))"#,
            callbacks: #"(func (export "proxy_on_foreign_function") (param i32 i32 i32))"#))
        let report = try ModuleValidator.validate(module)
        #expect(report.warnings == [
            "export proxy_on_foreign_function is a callback of ABI 0.2.0, 0.2.1 only; Envoy never calls it for ABI 0.1.0",
        ])
    }

    @Test("the report and the error round-trip through JSON")
    func codable() throws {
        let report = try ModuleValidator.validate(Samples.wasm(Samples.filter()))
        let decoded = try JSONDecoder().decode(ModuleReport.self, from: JSONEncoder().encode(report))
        #expect(decoded == report)
        let json = String(decoding: try JSONEncoder().encode(report), as: UTF8.self)
        #expect(json.contains(#""abiVersion":"0.2.1""#))

        let error = try Samples.rejection(Samples.wasm(Samples.filter(marker: "")))
        let decodedError = try JSONDecoder().decode(ModuleValidationError.self, from: JSONEncoder().encode(error))
        #expect(decodedError == error)
        #expect(String(decoding: try JSONEncoder().encode(error), as: UTF8.self).contains(#""code":"missing_abi_version""#))
    }

    @Test("every host table entry has a well-formed, unique registration")
    func hostTableIsConsistent() {
        var seen = Set<String>()
        for function in HostTable.functions {
            for version in function.versions {
                #expect(seen.insert("\(function.qualifiedName)@\(version)").inserted, "\(function.qualifiedName) twice")
            }
        }
        #expect(HostTable.functions(module: "wasi_unstable", name: "fd_write").count == 1)
        #expect(HostTable.functions(module: "env", name: "proxy_get_log_level").first?.versions == [.v0_2_1])
        #expect(WasmSignature("(i32, i64, i32) -> i32").description == "(i32, i64, i32) -> i32")
        #expect(WasmSignature("() -> ()").description == "() -> ()")
    }

    @Test("the data section fast path agrees with WasmParser on the real modules",
          .enabled(if: ValidationSamples.sharedModulesExist, "../shared/testdata/wasm is not present"),
          arguments: ["rust-sdk-hello-world.wasm", "go-sdk-http-headers.wasm", "cpp-sdk-on-request-headers.wasm"])
    func dataSectionScannerAgrees(file: String) throws {
        let bytes = [UInt8](try Samples.shared(file))
        let framing = try SectionFraming.frame(bytes)
        var parser = WasmParser.Parser(bytes: bytes, features: ModuleStructure.features)
        var segments = 0
        while let payload = try parser.parseNext() {
            if case .dataSection(let data) = payload { segments = data.count }
        }
        let data = try #require(framing.sections.first { $0.id == 11 })
        #expect(DataSectionScanner.segmentCount(bytes, payload: data.payload) == segments)
    }
}
