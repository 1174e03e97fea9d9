import Foundation
@testable import Modules
import Testing

@Suite("Module validation accepts what Envoy loads")
struct ModuleValidatorAcceptanceTests {
    /// The real modules built with the Go, Rust and C++ SDKs, which Envoy 1.40 loads.
    @Test(
        "accepts the SDK-built modules in ../shared/testdata/wasm",
        .enabled(if: ValidationSamples.sharedModulesExist, "../shared/testdata/wasm is not present"),
        arguments: [
            ("rust-sdk-hello-world.wasm", ProxyWasmABIVersion.v0_2_1, "proxy_on_memory_allocate"),
            ("go-sdk-http-headers.wasm", .v0_2_0, "proxy_on_memory_allocate"),
            ("cpp-sdk-on-request-headers.wasm", .v0_2_1, "malloc"),
        ])
    func acceptsSharedModules(file: String, version: ProxyWasmABIVersion, allocator: String) throws {
        let bytes = try ValidationSamples.shared(file)
        let report = try ModuleValidator.validate(bytes)
        #expect(report.abiVersion == version)
        #expect(report.allocator == allocator)
        #expect(report.size == bytes.count)
        #expect(report.sha256 == (try LoadedModule(bytes: bytes, origin: file)).sha256)
        #expect(report.functionCount > 10)
        #expect(!report.imports.isEmpty)
    }

    @Test(
        "a loaded module keeps its hash and validates the same",
        .enabled(if: ValidationSamples.sharedModulesExist, "../shared/testdata/wasm is not present"))
    func validatesLoadedModule() throws {
        let module = try LoadedModule(bytes: ValidationSamples.shared("go-sdk-http-headers.wasm"), origin: "go")
        let report = try ModuleValidator.validate(module)
        #expect(report.sha256 == module.sha256)
        #expect(report.capabilities.contains(.wasi))
        #expect(report.capabilities.contains(.headers))
    }

    @Test("accepts examples/add-header.wat")
    func acceptsAddHeaderExample() throws {
        let report = try ModuleValidator.validate(ValidationSamples.repositoryWAT("examples/add-header.wat"))
        #expect(report.abiVersion == .v0_2_1)
        #expect(report.allocator == "malloc")
        #expect(report.capabilities == [.buffers, .headers, .logging])
        #expect(report.warnings.isEmpty)
    }

    @Test("accepts Tests/Fixtures/callout.wat")
    func acceptsCalloutFixture() throws {
        let report = try ModuleValidator.validate(ValidationSamples.repositoryWAT("Tests/Fixtures/callout.wat"))
        #expect(report.capabilities.contains(.httpCallouts))
        #expect(report.warnings.isEmpty)
    }

    @Test("accepts the 0.1.0 header callback shape under ABI 0.1.0")
    func acceptsABI010HeaderCallbacks() throws {
        let module = try ValidationSamples.wasm(ValidationSamples.filter(
            marker: #"(func (export "proxy_abi_version_0_1_0"))"#,
            imports: #"(import "env" "proxy_continue_request" (func (result i32)))"#,
            callbacks: #"(func (export "proxy_on_request_headers") (param i32 i32) (result i32) (i32.const 0))"#))
        let report = try ModuleValidator.validate(module)
        #expect(report.abiVersion == .v0_1_0)
        #expect(report.capabilities == [.streamControl])
    }

    @Test("accepts memory and table imports, which V8 in Envoy creates from the module's limits")
    func acceptsMemoryAndTableImports() throws {
        let module = try ValidationSamples.wasm("""
            (module
              (import "env" "memory" (memory 1))
              (import "env" "__indirect_function_table" (table 1 funcref))
              (func (export "proxy_abi_version_0_2_1"))
              (func (export "malloc") (param i32) (result i32) (i32.const 0)))
            """)
        let report = try ModuleValidator.validate(module)
        #expect(report.imports.map(\.kind) == ["memory", "table"])
    }

    @Test("decodes data sections the fast scanner declines with WasmParser instead")
    func acceptsDataSegmentsOfEveryKind() throws {
        let module = try ValidationSamples.wasm(ValidationSamples.filter(extra: """
            (global $base i32 (i32.const 64))
            (data (i32.const 16) "active")
            (data "passive")
            (data (offset (global.get $base)) "by global")
            (data (offset (i32.add (i32.const 8) (i32.const 8))) "an extended constant expression")
            """))
        #expect(try ModuleValidator.validate(module).abiVersion == .v0_2_1)
        let bytes = [UInt8](module)
        let data = try #require(try SectionFraming.frame(bytes).sections.first { $0.id == 11 })
        #expect(DataSectionScanner.segmentCount(bytes, payload: data.payload) == nil, "the scanner should decline")
    }
}
