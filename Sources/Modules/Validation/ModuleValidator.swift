import Crypto
import Foundation
import WasmParser

/// Checks that Envoy 1.40 would load a Proxy-Wasm module, before the module reaches any Envoy.
///
/// The rule is that whatever Envoy would refuse, qpilot refuses first: a file that is not
/// WebAssembly, a truncated or corrupt one (every function body is decoded), a missing or doubled
/// ABI version marker, a missing allocator, an import Envoy does not provide or provides with
/// another signature, and a callback Envoy would call with another signature. The host table is
/// in `HostFunctions.swift`.
///
/// Validation is synchronous and CPU-bound: a large module keeps every core busy for a few
/// milliseconds (decoding ~1 million instructions for a 3.4 MB Go module). Bodies are decoded,
/// not type-checked, so a module whose instructions decode but do not type-check still passes.
public enum ModuleValidator {
    /// Validates a module's bytes, and hashes them.
    public static func validate(_ bytes: Data) throws(ModuleValidationError) -> ModuleReport {
        try validate(Array(bytes), knownSHA256: nil)
    }

    /// Validates a loaded module, whose hash is already known.
    public static func validate(_ module: LoadedModule) throws(ModuleValidationError) -> ModuleReport {
        try validate(Array(module.bytes), knownSHA256: module.sha256)
    }

    static func validate(_ bytes: [UInt8], knownSHA256: String?) throws(ModuleValidationError) -> ModuleReport {
        let (parts, sha256) = structureAndDigest(bytes, knownSHA256: knownSHA256)
        let (structure, conformance) = try parts.get()
        let failures = FunctionBodies.decode(structure.codes)
        let problems = conformance.problems + bodyProblems(failures, in: structure)
        guard problems.isEmpty, let version = conformance.version, let allocator = conformance.allocator else {
            throw ModuleValidationError(problems)
        }
        return ModuleReport(
            abiVersion: version,
            capabilities: conformance.capabilities.sorted(),
            allocator: allocator,
            imports: structure.imports.map { reportEntry($0, in: structure) },
            exports: structure.exports.map { reportEntry($0, in: structure) },
            functionCount: structure.codes.count,
            size: bytes.count,
            sha256: sha256,
            warnings: conformance.warnings)
    }

    private typealias Parts = Result<(ModuleStructure, ProxyWasmConformance), ModuleValidationError>

    /// Decodes the sections and checks the ABI rules; for a large module whose hash is not known
    /// yet, hashes it on another core meanwhile (each takes about 3 ms for 3.4 MB).
    private static func structureAndDigest(_ bytes: [UInt8], knownSHA256: String?) -> (Parts, String) {
        let parts: @Sendable () -> Parts = {
            Result { () throws(ModuleValidationError) in
                let structure = try ModuleStructure.decode(bytes, framing: SectionFraming.frame(bytes))
                return (structure, ProxyWasmConformance(structure))
            }
        }
        if let knownSHA256 { return (parts(), knownSHA256) }
        let digest: @Sendable () -> String = { LoadedModule.hex(SHA256.hash(data: bytes)) }
        guard bytes.count >= ParallelWork.minimumBytes else { return (parts(), digest()) }
        return ParallelWork.both(parts, digest)
    }

    /// Corrupt bodies, named by function index and, when the module has a name section, by name.
    /// Only the first few are listed: one corrupt body already means the file is damaged.
    private static func bodyProblems(_ failures: [FunctionBodies.Failure], in structure: ModuleStructure) -> [ModuleProblem] {
        guard !failures.isEmpty else { return [] }
        let names = functionNames(structure)
        let listed = 5
        var problems = failures.prefix(listed).map { failure in
            let index = structure.importedFunctionTypeIndices.count + failure.position
            let name = names[UInt32(index)].map { " (\($0))" } ?? ""
            return ModuleProblem(
                .corruptFunctionBody, subject: "function \(index)\(name)",
                "the body of function \(index)\(name) is corrupt: \(failure.detail)",
                envoyError: "Failed to load Wasm bytecode")
        }
        if failures.count > listed {
            problems.append(ModuleProblem(
                .corruptFunctionBody, "\(failures.count - listed) more function bodies are corrupt",
                envoyError: "Failed to load Wasm bytecode"))
        }
        return problems
    }

    private static func functionNames(_ structure: ModuleStructure) -> NameMap {
        guard let section = structure.nameSection else { return [:] }
        var parser = NameSectionParser(stream: StaticByteStreamSource(bytes: section))
        let names = (try? parser.parseAll()) ?? []
        for case .functions(let map) in names { return map }
        return [:]
    }

    private static func reportEntry(_ entry: Import, in structure: ModuleStructure) -> ModuleReport.Import {
        switch entry.descriptor {
        case .function(let typeIndex):
            ModuleReport.Import(
                module: entry.module, name: entry.name, kind: "function",
                signature: structure.functionType(at: typeIndex).map(WasmSignature.init))
        case .memory: ModuleReport.Import(module: entry.module, name: entry.name, kind: "memory", signature: nil)
        case .table: ModuleReport.Import(module: entry.module, name: entry.name, kind: "table", signature: nil)
        case .global: ModuleReport.Import(module: entry.module, name: entry.name, kind: "global", signature: nil)
        case .tag: ModuleReport.Import(module: entry.module, name: entry.name, kind: "tag", signature: nil)
        }
    }

    private static func reportEntry(_ entry: Export, in structure: ModuleStructure) -> ModuleReport.Export {
        switch entry.descriptor {
        case .function(let index):
            ModuleReport.Export(name: entry.name, kind: "function", signature: structure.signature(ofFunction: index))
        case .memory: ModuleReport.Export(name: entry.name, kind: "memory", signature: nil)
        case .table: ModuleReport.Export(name: entry.name, kind: "table", signature: nil)
        case .global: ModuleReport.Export(name: entry.name, kind: "global", signature: nil)
        case .tag: ModuleReport.Export(name: entry.name, kind: "tag", signature: nil)
        }
    }
}
