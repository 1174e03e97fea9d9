import WasmParser

extension ProxyWasmConformance {
    /// Every import must be something Envoy provides: a host function with exactly its signature
    /// (for the declared ABI version), a memory or a table. V8 in Envoy has no globals or tags
    /// to give (proxy-wasm-cpp-host src/v8/v8.cc, `V8::link`).
    mutating func checkImports() {
        for entry in structure.imports {
            let subject = "\(entry.module).\(entry.name)"
            switch entry.descriptor {
            case .function(let typeIndex):
                guard let type = structure.functionType(at: typeIndex) else { continue }
                checkFunctionImport(entry, subject: subject, signature: WasmSignature(type))
            case .memory, .table:
                continue
            case .global:
                report(ModuleProblem(
                    .missingImport, subject: subject,
                    "import \(subject) is a global, and Envoy provides no globals to modules",
                    envoyError: "Failed to load Wasm module due to a missing import: \(subject)"))
            case .tag:
                report(ModuleProblem(
                    .missingImport, subject: subject,
                    "import \(subject) is an exception tag, and Envoy provides no tags to modules",
                    envoyError: "Failed to load Wasm module due to a missing import: \(subject)"))
            }
        }
    }

    private mutating func checkFunctionImport(_ entry: Import, subject: String, signature: WasmSignature) {
        let missing = "Failed to load Wasm module due to a missing import: \(subject)"
        guard HostTable.providedModules.contains(entry.module) else {
            let modules = HostTable.providedModules.joined(separator: ", ")
            report(ModuleProblem(
                .missingImport, subject: subject,
                "import \(subject) comes from module \"\(entry.module)\", which Envoy does not provide (only \(modules))",
                envoyError: missing))
            return
        }
        let registrations = HostTable.functions(module: entry.module, name: entry.name)
        guard !registrations.isEmpty else {
            report(ModuleProblem(
                .missingImport, subject: subject,
                "import \(subject) is not a function Envoy provides" + Self.forVersion(version),
                envoyError: missing))
            return
        }
        let applicable = version.map { version in registrations.filter { $0.versions.contains(version) } } ?? registrations
        guard !applicable.isEmpty else {
            let versions = Self.versionList(Set(registrations.flatMap(\.versions)))
            report(ModuleProblem(
                .missingImport, subject: subject,
                "import \(subject) is not provided for ABI \(version!); Envoy provides it only for ABI \(versions)",
                envoyError: missing))
            return
        }
        guard let match = applicable.first(where: { $0.signature == signature }) else {
            let provided = Set(applicable.map(\.signature)).map(\.description).sorted().joined(separator: " or ")
            report(ModuleProblem(
                .importTypeMismatch, subject: subject,
                "import \(subject) has signature \(signature), but Envoy provides \(provided)" + Self.forVersion(version),
                envoyError: "Failed to load Wasm module due to an import type mismatch: \(subject)"))
            return
        }
        capabilities.insert(match.capability)
    }

    private static func forVersion(_ version: ProxyWasmABIVersion?) -> String {
        version.map { " for ABI \($0)" } ?? ""
    }
}
