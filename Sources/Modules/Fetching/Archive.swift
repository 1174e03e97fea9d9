import CompressNIO
import Foundation
import NIOCore

/// Picks the module out of a `.tar.gz`: its `plugin.wasm`, else its only `.wasm` file.
enum Archive {
    static func isGzip(_ data: Data) -> Bool { data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b }

    static func gunzip(_ data: Data, maxBytes: Int) throws(ModuleError) -> Data {
        var buffer = ByteBuffer(bytes: data)
        do {
            let out = try buffer.decompress(with: .gzip(), maxSize: maxBytes)
            return Data(out.readableBytesView)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw ModuleError("the archive expands past the limit of \(maxBytes) bytes; refusing it (a gzip bomb?)")
        } catch {
            throw ModuleError("the archive is not valid gzip: \(error)")
        }
    }

    static func module(fromTarGz data: Data, limits: FetchLimits, origin: String) throws(ModuleError) -> Data {
        let tar = try gunzip(data, maxBytes: limits.maxDecompressedBytes)
        let files = try TarReader.files(in: tar, maxTotalBytes: limits.maxDecompressedBytes)
        if let plugin = files.first(where: { ($0.path as NSString).lastPathComponent == "plugin.wasm" }) {
            return plugin.bytes
        }
        let wasm = files.filter { $0.path.hasSuffix(".wasm") }
        guard wasm.count == 1 else {
            throw ModuleError(
                wasm.isEmpty
                    ? "\(origin) holds no .wasm file (looked for plugin.wasm, then any single .wasm)"
                    : "\(origin) holds \(wasm.count) .wasm files and no plugin.wasm; name the module plugin.wasm")
        }
        return wasm[0].bytes
    }
}
