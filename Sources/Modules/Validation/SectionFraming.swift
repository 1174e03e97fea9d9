/// The top-level layout of a module: where each section starts and ends.
///
/// This is the framing check Envoy does itself before V8 sees the bytes (proxy-wasm-cpp-host
/// `BytecodeUtil`: each section's declared length must fit in the file), and it is what tells a
/// truncated file apart from a corrupt one. Section contents are left to WasmParser.
struct SectionFraming {
    struct Section {
        let id: UInt8
        /// Where the section's id byte is.
        let start: Int
        /// The section's contents, after its id and size.
        let payload: Range<Int>
    }

    let sections: [Section]

    /// Frames `bytes`, or says why they are not a module Envoy would parse.
    static func frame(_ bytes: [UInt8]) throws(ModuleValidationError) -> SectionFraming {
        if let problem = headerProblem(bytes) { throw ModuleValidationError([problem]) }
        var sections: [Section] = []
        var position = 8
        while position < bytes.count {
            let start = position
            let id = bytes[position]
            position += 1
            guard let size = readSize(bytes, at: &position) else {
                throw ModuleValidationError([truncated("the size of a \(name(of: id)) section at byte \(hex(start)) is cut short or not a valid 32-bit LEB128")])
            }
            let remaining = bytes.count - position
            guard Int(size) <= remaining else {
                throw ModuleValidationError([truncated(
                    "its \(name(of: id)) section at byte \(hex(start)) declares \(size) bytes, but only \(remaining) remain")])
            }
            sections.append(Section(id: id, start: start, payload: position..<position + Int(size)))
            position += Int(size)
        }
        return SectionFraming(sections: sections)
    }

    /// The readable name of a section id, for messages.
    static func name(of id: UInt8) -> String {
        let names = ["custom", "type", "import", "function", "table", "memory", "global", "export", "start",
                     "element", "code", "data", "data count", "tag"]
        return Int(id) < names.count ? names[Int(id)] : "unknown (id \(id))"
    }

    static func hex(_ offset: Int) -> String { "0x" + String(offset, radix: 16) }

    private static func headerProblem(_ bytes: [UInt8]) -> ModuleProblem? {
        let magic: [UInt8] = [0x00, 0x61, 0x73, 0x6d]
        guard bytes.count >= 4, Array(bytes[0..<4]) == magic else {
            return ModuleProblem(.notWasm, "the file is not WebAssembly: it does not start with the magic bytes \\0asm",
                                 envoyError: "Failed to parse corrupted Wasm module")
        }
        guard bytes.count >= 8 else {
            return truncated("the file ends inside its 8-byte header")
        }
        let version = Array(bytes[4..<8])
        if version == [0x0d, 0x00, 0x01, 0x00] {
            return ModuleProblem(.notWasm, "the file is a WebAssembly component, but Envoy loads only core modules",
                                 envoyError: "Failed to load Wasm bytecode")
        }
        guard version == [0x01, 0x00, 0x00, 0x00] else {
            return ModuleProblem(.notWasm, "the file has WebAssembly binary version \(version), but Envoy loads only version 1",
                                 envoyError: "Failed to load Wasm bytecode")
        }
        return nil
    }

    private static func truncated(_ detail: String) -> ModuleProblem {
        ModuleProblem(.truncated, "the module is truncated: \(detail)", envoyError: "Failed to parse corrupted Wasm module")
    }

    /// An unsigned LEB128 of at most 32 bits, as cpp-host's `parseVarint` reads a section size.
    private static func readSize(_ bytes: [UInt8], at position: inout Int) -> UInt32? {
        var result: UInt32 = 0
        var shift: UInt32 = 0
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if shift == 28 && byte & 0x7f > 0x0f { return nil }
            result |= UInt32(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 28 { return nil }
        }
        return nil
    }
}
