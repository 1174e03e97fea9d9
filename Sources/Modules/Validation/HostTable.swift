/// The functions Envoy provides to a module (its imports) and the functions Envoy looks up in a
/// module (its callbacks), with exact signatures. The data itself is in `HostFunctions.swift`.
enum HostTable {
    /// A function that Envoy registers for modules to import.
    struct Function: Sendable {
        let module: String
        let name: String
        let signature: WasmSignature
        /// The ABI versions for which Envoy registers it.
        let versions: Set<ProxyWasmABIVersion>
        let capability: ModuleCapability

        var qualifiedName: String { "\(module).\(name)" }
    }

    /// A function that Envoy looks up among a module's exports, and whose signature it checks.
    struct Callback: Sendable {
        let name: String
        let signature: WasmSignature
        /// The ABI versions for which Envoy looks it up.
        let versions: Set<ProxyWasmABIVersion>
    }

    /// The import modules Envoy provides; an import from any other module is missing.
    static let wasiModules = ["wasi_snapshot_preview1", "wasi_unstable"]
    static let providedModules = ["env"] + wasiModules

    /// Every registration of `module.name`, across ABI versions.
    static func functions(module: String, name: String) -> [Function] {
        functionsByName["\(module).\(name)"] ?? []
    }

    /// Every lookup of an export called `name`, across ABI versions.
    static func callbacks(named name: String) -> [Callback] {
        callbacksByName[name] ?? []
    }

    private static let functionsByName: [String: [Function]] = Dictionary(grouping: functions, by: \.qualifiedName)
    private static let callbacksByName: [String: [Callback]] = Dictionary(grouping: callbacks, by: \.name)

    static let allVersions = Set(ProxyWasmABIVersion.allCases)
}

extension HostTable.Function {
    /// A Proxy-Wasm host function from module `env`, e.g. `proxy_log`.
    static func env(
        _ name: String, _ signature: String, _ capability: ModuleCapability,
        only versions: Set<ProxyWasmABIVersion> = HostTable.allVersions
    ) -> Self {
        Self(module: "env", name: name, signature: WasmSignature(signature), versions: versions, capability: capability)
    }

    /// A WASI function; `HostTable.functions` lists it under every WASI module name.
    static func wasi(_ name: String, _ signature: String) -> Self {
        Self(module: HostTable.wasiModules[0], name: name, signature: WasmSignature(signature),
             versions: HostTable.allVersions, capability: .wasi)
    }

    func moved(to module: String) -> Self {
        Self(module: module, name: name, signature: signature, versions: versions, capability: capability)
    }
}

extension HostTable.Callback {
    static func callback(
        _ name: String, _ signature: String, only versions: Set<ProxyWasmABIVersion> = HostTable.allVersions
    ) -> Self {
        Self(name: name, signature: WasmSignature(signature), versions: versions)
    }
}
