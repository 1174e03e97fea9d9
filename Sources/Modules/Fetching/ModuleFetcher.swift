import Crypto
import Foundation

/// Fetches a module from any source, with limits, and checks it is WebAssembly.
public struct ModuleFetcher: Sendable {
    /// A fetched module, and what a mutable reference resolved to.
    public struct Fetched: Sendable {
        public var module: LoadedModule
        /// For OCI, the manifest digest (`sha256:…`) a tag resolved to.
        public var resolvedDigest: String?
        /// For OCI, which of the four layouts the image used.
        public var layout: String?
    }

    public let limits: FetchLimits
    public let credentials: RegistryCredentials

    public init(limits: FetchLimits = FetchLimits(), credentials: RegistryCredentials = RegistryCredentials()) {
        self.limits = limits
        self.credentials = credentials
    }

    /// Fetches `source`. When `expectedSHA256` is given, the module's bytes must hash to it.
    public func fetch(
        _ source: ModuleSource, expectedSHA256: String? = nil,
        progress: (@Sendable (_ received: Int, _ total: Int?) -> Void)? = nil
    ) async throws(ModuleError) -> Fetched {
        let http = HTTPFetcher(limits: limits)
        var fetched: Fetched
        switch source {
        case .file(let url):
            fetched = Fetched(module: try Self.readFile(url, limits: limits))
        case .http(let url):
            let result = try await http.get(url, maxBytes: limits.maxModuleBytes, progress: progress)
            guard (200..<300).contains(result.status) else {
                throw ModuleError("\(url.absoluteString) answered HTTP \(result.status)")
            }
            var bytes = result.body
            if Archive.isGzip(bytes) {
                bytes = try Archive.module(fromTarGz: bytes, limits: limits, origin: url.absoluteString)
            }
            fetched = Fetched(module: try Self.checked(bytes, origin: url.absoluteString))
        case .oci(let reference):
            let pulled = try await OCIClient(http: http, credentials: credentials).pull(reference, progress: progress)
            fetched = Fetched(
                module: try Self.checked(pulled.bytes, origin: "oci://\(reference)"), resolvedDigest: pulled.manifestDigest,
                layout: pulled.layout)
        }
        if let expected = expectedSHA256?.lowercased(), expected != fetched.module.sha256 {
            throw ModuleError(
                "\(source) has sha256 \(fetched.module.sha256), but \(expected) was expected; refusing it (was the module changed?)",
                isDigestMismatch: true)
        }
        return fetched
    }

    static func checked(_ bytes: Data, origin: String) throws(ModuleError) -> LoadedModule {
        try LoadedModule(bytes: bytes, origin: origin)
    }

    static func readFile(_ url: URL, limits: FetchLimits) throws(ModuleError) -> LoadedModule {
        if let size = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.size] as? Int, size > limits.maxModuleBytes {
            throw ModuleError("\(url.path) is \(size) bytes, over the limit of \(limits.maxModuleBytes) bytes")
        }
        let bytes: Data
        do {
            bytes = try Data(contentsOf: url)
        } catch {
            throw ModuleError("cannot read module \(url.path): \(LoadedModule.reason(error))")
        }
        if Archive.isGzip(bytes) {
            return try checked(try Archive.module(fromTarGz: bytes, limits: limits, origin: url.path), origin: url.path)
        }
        return try checked(bytes, origin: url.path)
    }
}
