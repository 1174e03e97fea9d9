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
        // Whatever the path (a file, an archive's member, an OCI layer), the module itself is bounded.
        guard fetched.module.bytes.count <= limits.maxModuleBytes else {
            throw ModuleError(
                "\(source): the module is \(fetched.module.bytes.count) bytes, over the limit of \(limits.maxModuleBytes) bytes (modules.maxModuleBytes)")
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
        let bytes = try readBounded(url, maxBytes: limits.maxModuleBytes, within: limits.fileDirectories)
        if Archive.isGzip(bytes) {
            return try checked(try Archive.module(fromTarGz: bytes, limits: limits, origin: url.path), origin: url.path)
        }
        return try checked(bytes, origin: url.path)
    }

    /// The bytes of a regular file of at most `maxBytes`. The size is taken from the opened
    /// descriptor, so a symbolic link is judged by what it points to, and a device or a pipe
    /// (which could be read forever) is refused.
    ///
    /// With `directories`, the path, its symbolic links followed, must lie in one of them before
    /// anything is opened, and a path outside gets the same answer whether or not its file exists
    /// (no oracle). So must the file actually opened, read back from the descriptor, so a link
    /// swapped in after the check is refused too.
    static func readBounded(_ url: URL, maxBytes: Int, within directories: [URL]? = nil) throws(ModuleError) -> Data {
        let real = directories?.map { URL(fileURLWithPath: $0.path).resolvingSymlinksInPath().path }
        if let directories, let real {
            let lexical = url.standardizedFileURL.path
            let written = Self.path(lexical, isIn: directories.map { $0.standardizedFileURL.path } + real)
            guard Self.path(url.standardizedFileURL.resolvingSymlinksInPath().path, isIn: real) else {
                throw outside(url, directories, leads: written)
            }
        }
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ModuleError("cannot read module \(url.path): \(errno == ENOENT ? "no such file" : String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        if let directories, let real {
            let opened = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")) ?? ""
            guard !opened.isEmpty, Self.path(opened, isIn: real) else { throw outside(url, directories, leads: true) }
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw ModuleError("cannot read module \(url.path): \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw ModuleError("\(url.path) is not a regular file") }
        guard Int(info.st_size) <= maxBytes else {
            throw ModuleError("\(url.path) is \(info.st_size) bytes, over the limit of \(maxBytes) bytes (modules.maxModuleBytes)")
        }
        var bytes = Data(count: Int(info.st_size))
        var total = 0
        while total < bytes.count {
            let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + total, $0.count - total) }
            if count < 0, errno == EINTR { continue }
            if count < 0 { throw ModuleError("cannot read module \(url.path): \(String(cString: strerror(errno)))") }
            if count == 0 { break }
            total += count
        }
        // A file that shrank while it was read is taken as read; one that grew is not read past its size.
        return bytes.prefix(total)
    }

    static func path(_ path: String, isIn directories: [String]) -> Bool {
        directories.contains { directory in
            let prefix = directory.hasSuffix("/") ? directory : directory + "/"
            return path.hasPrefix(prefix)
        }
    }

    static func outside(_ url: URL, _ directories: [URL], leads: Bool) -> ModuleError {
        let allowed = directories.isEmpty ? "none are set" : directories.map(\.path).joined(separator: ", ")
        let how = leads ? "leads outside them (through a symbolic link)" : "is outside them"
        return ModuleError(
            "module files sent through the admin API are read only from modules.sourceDirs (\(allowed)); \(url.path) \(how). "
                + "Add its folder to modules.sourceDirs in qpilot.yaml, or use an http(s):// or oci:// source")
    }
}
