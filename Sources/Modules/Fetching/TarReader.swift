import Foundation

/// Reads the regular files of a tar archive in memory, and refuses anything that could escape a
/// folder: absolute paths, `..` components, and links of either kind. Nothing is ever written to
/// disk from an archive, so a hostile one can at most be refused.
///
/// Formats: POSIX ustar (with its `prefix` field), pax extended headers (`path`), and GNU long
/// names (`././@LongLink`). Written here because no package on this machine reads tar.
enum TarReader {
    struct Entry: Equatable {
        var path: String
        var bytes: Data
    }

    static func files(in archive: Data, maxTotalBytes: Int) throws(ModuleError) -> [Entry] {
        var entries: [Entry] = []
        var offset = 0
        var longName: String?
        var paxPath: String?
        var total = 0
        let bytes = [UInt8](archive)
        while offset + 512 <= bytes.count {
            let header = bytes[offset..<offset + 512]
            if header.allSatisfy({ $0 == 0 }) { break }
            guard verifyChecksum(header) else { throw ModuleError("the archive is corrupt: a tar header checksum does not match") }
            let size = try octal(header, at: 124, length: 12)
            let type = header[header.startIndex + 156]
            let dataStart = offset + 512
            let padded = (size + 511) / 512 * 512
            guard size >= 0, dataStart + size <= bytes.count else { throw ModuleError("the archive is truncated") }
            total += size
            if total > maxTotalBytes {
                throw ModuleError("the archive holds more than the limit of \(maxTotalBytes) bytes")
            }
            let data = Data(bytes[dataStart..<dataStart + size])
            var name = string(header, at: 0, length: 100)
            let magic = string(header, at: 257, length: 6)
            if magic.hasPrefix("ustar") {
                let prefix = string(header, at: 345, length: 155)
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            switch type {
            case UInt8(ascii: "L"):
                longName = String(decoding: data.prefix { $0 != 0 }, as: UTF8.self)
            case UInt8(ascii: "x"):
                paxPath = paxValue("path", in: data)
            case UInt8(ascii: "g"):
                break
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                let path = paxPath ?? longName ?? name
                try checkPath(path)
                entries.append(Entry(path: path, bytes: data))
                longName = nil
                paxPath = nil
            case UInt8(ascii: "1"), UInt8(ascii: "2"):
                throw ModuleError("the archive holds a link ('\(paxPath ?? longName ?? name)'); links are not allowed in module archives")
            case UInt8(ascii: "5"):
                try checkPath(paxPath ?? longName ?? name)
                longName = nil
                paxPath = nil
            default:
                throw ModuleError("the archive holds '\(paxPath ?? longName ?? name)', which is not a regular file or folder")
            }
            offset = dataStart + padded
        }
        return entries
    }

    /// Refuses absolute paths and `..` components.
    static func checkPath(_ path: String) throws(ModuleError) {
        if path.hasPrefix("/") || path.hasPrefix("\\") {
            throw ModuleError("the archive member '\(path)' has an absolute path; refusing the archive")
        }
        let parts = path.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        if parts.contains("..") {
            throw ModuleError("the archive member '\(path)' points outside its folder (..); refusing the archive")
        }
    }

    static func string(_ header: ArraySlice<UInt8>, at offset: Int, length: Int) -> String {
        let start = header.startIndex + offset
        let field = header[start..<start + length]
        return String(decoding: field.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func octal(_ header: ArraySlice<UInt8>, at offset: Int, length: Int) throws(ModuleError) -> Int {
        let text = string(header, at: offset, length: length).trimmingCharacters(in: CharacterSet(charactersIn: " \0"))
        if text.isEmpty { return 0 }
        guard let value = Int(text, radix: 8) else { throw ModuleError("the archive is corrupt: a size field is not octal") }
        return value
    }

    static func verifyChecksum(_ header: ArraySlice<UInt8>) -> Bool {
        guard let stored = try? octal(header, at: 148, length: 8) else { return false }
        var sum = 0
        for (index, byte) in header.enumerated() {
            sum += (148..<156).contains(index) ? 32 : Int(byte)
        }
        return sum == stored
    }

    /// Reads one key from pax records: "<length> <key>=<value>\n".
    static func paxValue(_ key: String, in data: Data) -> String? {
        let text = String(decoding: data, as: UTF8.self)
        for record in text.split(separator: "\n") {
            guard let space = record.firstIndex(of: " ") else { continue }
            let pair = record[record.index(after: space)...]
            if pair.hasPrefix("\(key)=") { return String(pair.dropFirst(key.count + 1)) }
        }
        return nil
    }
}
