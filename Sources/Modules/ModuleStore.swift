import Foundation

/// Modules stored by content under `<dataDir>/modules/sha256/<hex>`.
///
/// Writes are atomic (temp file, fsync, rename), so a crash never leaves a half-written module
/// under its final name, and a module's name is its hash, so a stored file is never rewritten.
public struct ModuleStore: Sendable {
    public let directory: URL

    public init(dataDirectory: URL) throws(ModuleError) {
        directory = dataDirectory.appendingPathComponent("modules/sha256", isDirectory: true)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw ModuleError("cannot create the module store at \(directory.path): \(error.localizedDescription)")
        }
    }

    /// The file of a stored module.
    public func path(of sha256: String) -> URL { directory.appendingPathComponent(sha256) }

    /// Stores a module unless it is already there.
    public func put(_ module: LoadedModule) throws(ModuleError) {
        guard !FileManager.default.fileExists(atPath: path(of: module.sha256).path) else { return }
        try Self.writeAtomically(module.bytes, to: path(of: module.sha256))
    }

    /// The bytes of a stored module, or nil. `sha256` must be 64 lowercase hex digits, so a request
    /// can never name a path outside the store.
    public func get(_ sha256: String) -> Data? {
        guard Self.isDigest(sha256) else { return nil }
        return FileManager.default.contents(atPath: path(of: sha256).path)
    }

    /// The stored module named `sha256`, only if its bytes still hash to that name. A file that
    /// does not (a disk error, an edit by hand) is removed, so the next use fetches it again
    /// rather than serving bytes no one validated.
    public func verified(_ sha256: String) -> LoadedModule? {
        guard let bytes = get(sha256) else { return nil }
        guard let module = try? LoadedModule(bytes: bytes, origin: path(of: sha256).path), module.sha256 == sha256 else {
            try? FileManager.default.removeItem(at: path(of: sha256))
            return nil
        }
        return module
    }

    /// The sha256 of every stored module.
    public func all() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter(Self.isDigest)
    }

    /// Deletes every stored module not in `keep`, and returns the digests deleted.
    @discardableResult
    public func collectGarbage(keeping keep: Set<String>) -> [String] {
        var removed: [String] = []
        for digest in all() where !keep.contains(digest) {
            if (try? FileManager.default.removeItem(at: path(of: digest))) != nil { removed.append(digest) }
        }
        return removed.sorted()
    }

    /// True for 64 lowercase hex digits.
    public static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// Writes `bytes` to `url` through a temporary file in the same directory, fsyncs, renames.
    public static func writeAtomically(_ bytes: Data, to url: URL, mode: mode_t = 0o644) throws(ModuleError) {
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard fd >= 0 else { throw ModuleError("cannot write \(temp.path): \(String(cString: strerror(errno)))") }
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temp.path, url.path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temp.path)
            throw ModuleError("cannot write \(url.path): \(failure)")
        }
    }
}
