import Crypto
import Foundation

/// The secrets key on disk: one line holding 32 random bytes in base64, mode 0600.
///
/// Every write goes through a temporary file that is created 0600 with `O_EXCL` (never widened
/// and then narrowed), written, fsynced and then linked or renamed into place, so a crash leaves
/// either no file or a whole one, never a half-written key.
enum KeyFile {
    /// Reads a key file, or nil when there is none. Refuses a file that other users could read,
    /// because whoever reads it can open every secret in the database.
    static func read(_ url: URL) throws -> SymmetricKey? {
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw StoreError.unusable("cannot read the secrets key file \(url.path): \(lastError())")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw StoreError.unusable("the secrets key file \(url.path) is not a regular file")
        }
        guard info.st_mode & 0o077 == 0 else {
            let mode = String(info.st_mode & 0o777, radix: 8)
            throw StoreError.unusable(
                "the secrets key file \(url.path) is open to other users (mode \(mode)); run: chmod 600 \(url.path)")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw StoreError.unusable("cannot read the secrets key file \(url.path): \(error.localizedDescription)")
        }
        guard let key = parse(String(decoding: data, as: UTF8.self)) else {
            throw StoreError.unusable(
                "the secrets key file \(url.path) is malformed: it must hold one line with a 256-bit key in base64 (44 characters) or hex (64 characters)"
            )
        }
        return key
    }

    /// Base64 is what qpilot writes; hex is accepted too, so an operator can make a key with
    /// `openssl rand -hex 32`.
    static func parse(_ text: String) -> SymmetricKey? {
        let line = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !line.contains(where: \.isNewline) else { return nil }
        if line.utf8.count == 64, let bytes = hexBytes(line) { return SymmetricKey(data: bytes) }
        guard let bytes = Data(base64Encoded: line), bytes.count == 32 else { return nil }
        return SymmetricKey(data: bytes)
    }

    /// The line written to a key file.
    static func contents(of key: SymmetricKey) -> Data {
        Data((key.withUnsafeBytes { Data($0) }.base64EncodedString() + "\n").utf8)
    }

    /// A short, stable name for a key, stored next to each sealed value so the store can tell
    /// which key sealed it without trying to decrypt. A hash prefix of a random 256-bit key says
    /// nothing useful about the key.
    static func identifier(of key: SymmetricKey) -> String {
        let digest = key.withUnsafeBytes { SHA256.hash(data: Data($0)) }
        return digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// Writes a new key file only when there is none: false when another process created it first.
    static func create(_ key: SymmetricKey, at url: URL) throws -> Bool {
        let temp = try writeTemporary(key, beside: url)
        defer { unlink(temp.path) }
        // link(2) fails with EEXIST instead of replacing, unlike rename(2).
        guard link(temp.path, url.path) == 0 else {
            if errno == EEXIST { return false }
            throw StoreError.unusable("cannot create the secrets key file \(url.path): \(lastError())")
        }
        try syncDirectory(of: url)
        return true
    }

    /// Writes a key file, atomically replacing any file at `url`.
    static func replace(_ key: SymmetricKey, at url: URL) throws {
        let temp = try writeTemporary(key, beside: url)
        try move(temp, to: url)
    }

    /// Renames `source` over `destination` and makes the rename durable.
    static func move(_ source: URL, to destination: URL) throws {
        guard rename(source.path, destination.path) == 0 else {
            let reason = lastError()
            unlink(source.path)
            throw StoreError.unusable("cannot write the secrets key file \(destination.path): \(reason)")
        }
        try syncDirectory(of: destination)
    }

    private static func writeTemporary(_ key: SymmetricKey, beside url: URL) throws -> URL {
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError.unusable("cannot create a key file in \(url.deletingLastPathComponent().path): \(lastError())")
        }
        var failure: String?
        let bytes = contents(of: key)
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = lastError()
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = lastError() }
        close(fd)
        if let failure {
            unlink(temp.path)
            throw StoreError.unusable("cannot write a key file in \(url.deletingLastPathComponent().path): \(failure)")
        }
        return temp
    }

    /// A rename or a new link is only durable once the directory itself is synced.
    private static func syncDirectory(of url: URL) throws {
        let directory = url.deletingLastPathComponent().path
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.unusable("cannot open \(directory) to sync it: \(lastError())") }
        defer { close(fd) }
        // Some file systems cannot sync a directory (EINVAL); there is nothing more to do there.
        if fsync(fd) != 0, errno != EINVAL {
            throw StoreError.unusable("cannot sync \(directory): \(lastError())")
        }
    }

    private static func hexBytes(_ text: String) -> Data? {
        var bytes = Data()
        var iterator = text.utf8.makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = hexValue(high), let l = hexValue(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        return bytes
    }

    private static func hexValue(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
