import WasmParser

/// The Proxy-Wasm rules Envoy applies when it loads a module: one ABI version marker, an
/// allocator, imports it provides, callbacks with the signatures it calls. Every problem is kept,
/// so the author sees them all at once.
struct ProxyWasmConformance: Sendable {
    let structure: ModuleStructure
    var problems: [ModuleProblem] = []
    var warnings: [String] = []
    /// The declared version, or the first of several (the one Envoy would use).
    var version: ProxyWasmABIVersion?
    var allocator: String?
    var capabilities: Set<ModuleCapability> = []

    /// Function exports by name, with their signatures.
    let functionExports: [String: WasmSignature]

    /// Checks `structure`; read the results from the properties.
    init(_ structure: ModuleStructure) {
        self.structure = structure
        var functionExports: [String: WasmSignature] = [:]
        for export in structure.exports {
            if case .function(let index) = export.descriptor, let signature = structure.signature(ofFunction: index) {
                functionExports[export.name] = signature
            }
        }
        self.functionExports = functionExports
        checkVersionMarker()
        checkAllocator()
        checkImports()
        checkCallbacks()
    }

    mutating func report(_ problem: ModuleProblem) { problems.append(problem) }
    mutating func warn(_ warning: String) { warnings.append(warning) }

    private mutating func checkVersionMarker() {
        let markers = structure.exports.filter { ProxyWasmABIVersion(marker: $0.name) != nil }
        let functionMarkers = markers.filter { if case .function = $0.descriptor { true } else { false } }
        version = functionMarkers.first.flatMap { ProxyWasmABIVersion(marker: $0.name) }
        let known = ProxyWasmABIVersion.allCases.reversed().map(\.marker).joined(separator: ", ")
        if functionMarkers.isEmpty {
            var message = "the module declares no Proxy-Wasm ABI version: it must export exactly one function "
                + "() -> () named one of \(known)"
            let unknown = structure.exports.map(\.name).filter {
                $0.hasPrefix(ProxyWasmABIVersion.markerPrefix) && ProxyWasmABIVersion(marker: $0) == nil
            }
            if !unknown.isEmpty { message += "; Envoy 1.40 does not know \(unknown.joined(separator: ", "))" }
            let nonFunctions = markers.map(\.name)
            if !nonFunctions.isEmpty { message += "; \(nonFunctions.joined(separator: ", ")) is exported, but not as a function" }
            report(ModuleProblem(.missingABIVersion, message, envoyError: "Missing or unknown Proxy-Wasm ABI version"))
        } else if functionMarkers.count > 1 {
            let names = functionMarkers.map(\.name)
            report(ModuleProblem(
                .multipleABIVersions, subject: names.joined(separator: ", "),
                "the module exports \(names.count) ABI version markers, \(names.joined(separator: " and ")); "
                    + "it must declare exactly one (Envoy would silently use the first, \(names[0]))"))
        }
        for marker in functionMarkers {
            guard let signature = functionExports[marker.name], signature != Self.markerSignature else { continue }
            report(ModuleProblem(
                .badABIMarker, subject: marker.name,
                "export \(marker.name) has signature \(signature), but an ABI version marker must be () -> ()"))
        }
    }

    private mutating func checkAllocator() {
        let expected = Self.allocatorSignature
        // Envoy looks up `malloc` first and `proxy_on_memory_allocate` only in its absence (the
        // reverse of the spec's preference); a wrong signature on either is refused here, since a
        // host that follows the spec would call it.
        for name in ["malloc", "proxy_on_memory_allocate"] {
            guard let signature = functionExports[name] else { continue }
            allocator = allocator ?? name
            if signature != expected {
                report(ModuleProblem(
                    .badCallbackSignature, subject: name,
                    "export \(name) has signature \(signature), but Envoy calls it as \(expected) to allocate memory",
                    envoyError: "Bad function signature for: \(name)"))
            }
        }
        if allocator == nil {
            report(ModuleProblem(
                .missingAllocator,
                "the module exports no allocator: Envoy needs a function malloc or proxy_on_memory_allocate \(expected)",
                envoyError: "Wasm module is missing malloc function"))
        }
    }

    static let markerSignature = WasmSignature("() -> ()")
    static let allocatorSignature = WasmSignature("(i32) -> i32")

    /// The versions a host table entry applies to, spelt for a message.
    static func versionList(_ versions: Set<ProxyWasmABIVersion>) -> String {
        versions.sorted().map(\.rawValue).joined(separator: ", ")
    }
}
