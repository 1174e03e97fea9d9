import Crypto
import Foundation

/// A module's bytes with their sha256, checked to be WebAssembly.
public struct LoadedModule: Sendable, Equatable {
    public let bytes: Data
    /// Lowercase hex sha256 of `bytes`.
    public let sha256: String

    /// Checks the magic and version header, and hashes the bytes.
    public init(bytes: Data, origin: String) throws(ModuleError) {
        // "\0asm" then version 1, little-endian (WebAssembly core spec, 5.5.16 "Modules").
        let header: [UInt8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]
        guard bytes.count >= header.count, Array(bytes.prefix(header.count)) == header else {
            throw ModuleError("\(origin) is not a WebAssembly module (it does not start with \\0asm, version 1)")
        }
        self.bytes = bytes
        self.sha256 = Self.hex(SHA256.hash(data: bytes))
    }

    /// Lowercase hex of a digest.
    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError,
            let posix = POSIXErrorCode(rawValue: Int32(underlying.code)), underlying.domain == NSPOSIXErrorDomain
        {
            return String(cString: strerror(posix.rawValue))
        }
        if nsError.domain == NSCocoaErrorDomain, nsError.code == NSFileReadNoSuchFileError {
            return "no such file"
        }
        return nsError.localizedDescription
    }
}
