/// What validation learned about a module that Envoy would load.
public struct ModuleReport: Sendable, Hashable, Codable {
    /// One import of the module.
    public struct Import: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The module it is imported from, e.g. `env`.
        public let module: String
        /// The name within that module, e.g. `proxy_log`.
        public let name: String
        /// `function`, `memory`, `table` or `global`.
        public let kind: String
        /// The signature, for a function import.
        public let signature: WasmSignature?

        /// `env.proxy_log (i32, i32, i32) -> i32`.
        public var description: String {
            "\(module).\(name) \(signature.map { "\($0)" } ?? kind)"
        }
    }

    /// One export of the module.
    public struct Export: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The exported name.
        public let name: String
        /// `function`, `memory`, `table`, `global` or `tag`.
        public let kind: String
        /// The signature, for a function export.
        public let signature: WasmSignature?

        /// `proxy_on_tick (i32) -> ()`.
        public var description: String { "\(name) \(signature.map { "\($0)" } ?? kind)" }
    }

    /// The ABI version the module declares with its `proxy_abi_version_*` export.
    public let abiVersion: ProxyWasmABIVersion
    /// What the module can do, from the host functions it imports; sorted.
    public let capabilities: [ModuleCapability]
    /// The export Envoy will call to allocate memory in the module: `malloc` when exported,
    /// else `proxy_on_memory_allocate` (the order Envoy uses, not the spec's).
    public let allocator: String
    /// Every import, in the module's order.
    public let imports: [Import]
    /// Every export, in the module's order.
    public let exports: [Export]
    /// Functions defined in the module (imports excluded); every body was decoded.
    public let functionCount: Int
    /// Size of the module in bytes.
    public let size: Int
    /// Lowercase hex sha256 of the module's bytes.
    public let sha256: String
    /// Things Envoy accepts but the author may not expect, e.g. a `proxy_on_*` export that Envoy
    /// never calls (a misspelt callback, or one from another ABI version).
    public let warnings: [String]
}
