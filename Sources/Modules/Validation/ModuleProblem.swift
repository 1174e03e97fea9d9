/// One reason why Envoy would refuse a module, in terms its author can act on.
public struct ModuleProblem: Sendable, Hashable, Codable, CustomStringConvertible {
    /// What kind of problem this is. New kinds may be added without breaking callers.
    public struct Code: Sendable, Hashable, Codable, CustomStringConvertible {
        private enum Wrapped: String, Sendable, Codable {
            case notWasm = "not_wasm"
            case truncated
            case malformed
            case corruptFunctionBody = "corrupt_function_body"
            case missingABIVersion = "missing_abi_version"
            case multipleABIVersions = "multiple_abi_versions"
            case badABIMarker = "bad_abi_marker"
            case missingAllocator = "missing_allocator"
            case missingImport = "missing_import"
            case importTypeMismatch = "import_type_mismatch"
            case badCallbackSignature = "bad_callback_signature"
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        /// The bytes are not a WebAssembly core module.
        public static let notWasm = Self(.notWasm)
        /// A section runs past the end of the file.
        public static let truncated = Self(.truncated)
        /// A section cannot be decoded, or sections contradict each other.
        public static let malformed = Self(.malformed)
        /// A function body holds bytes that are not valid instructions.
        public static let corruptFunctionBody = Self(.corruptFunctionBody)
        /// No `proxy_abi_version_*` function that Envoy knows is exported.
        public static let missingABIVersion = Self(.missingABIVersion)
        /// More than one ABI version marker is exported.
        public static let multipleABIVersions = Self(.multipleABIVersions)
        /// The ABI version marker is not a function `() -> ()`.
        public static let badABIMarker = Self(.badABIMarker)
        /// Neither `malloc` nor `proxy_on_memory_allocate` is exported as a function.
        public static let missingAllocator = Self(.missingAllocator)
        /// An import that Envoy does not provide (for this ABI version).
        public static let missingImport = Self(.missingImport)
        /// An import that Envoy provides with another signature.
        public static let importTypeMismatch = Self(.importTypeMismatch)
        /// An export that Envoy calls, with another signature than Envoy calls it with.
        public static let badCallbackSignature = Self(.badCallbackSignature)

        /// The code as it appears in JSON, e.g. `missing_import`.
        public var description: String { wrapped.rawValue }

        public init(from decoder: any Decoder) throws { wrapped = try Wrapped(from: decoder) }
        public func encode(to encoder: any Encoder) throws { try wrapped.encode(to: encoder) }
    }

    /// What kind of problem this is.
    public let code: Code
    /// The import, export or function at fault, e.g. `env.proxy_log`, when there is one.
    public let subject: String?
    /// What is wrong: what was expected and what was found.
    public let message: String
    /// The words Envoy 1.40 logs for the same fault, so that its logs can be matched.
    public let envoyError: String?

    /// A problem from its parts.
    public init(_ code: Code, subject: String? = nil, _ message: String, envoyError: String? = nil) {
        self.code = code
        self.subject = subject
        self.message = message
        self.envoyError = envoyError
    }

    /// The message, followed by Envoy's words when there are some.
    public var description: String {
        guard let envoyError else { return message }
        return "\(message) (Envoy: \"\(envoyError)\")"
    }
}
