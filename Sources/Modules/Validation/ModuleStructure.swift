import WasmParser
import WasmTypes

/// The parts of a module that validation reads, decoded by WasmParser. Function bodies are only
/// located here; `FunctionBodies` decodes them.
struct ModuleStructure: Sendable {
    /// Function types by type index; nil for a non-function type (GC struct or array).
    var types: [FunctionType?] = []
    var imports: [Import] = []
    /// The type index of each function the module defines.
    var functionTypeIndices: [TypeIndex] = []
    var exports: [Export] = []
    var codes: [Code] = []
    var dataCount: UInt32?
    var dataSegmentCount = 0
    /// The contents of the `name` custom section, if any.
    var nameSection: ArraySlice<UInt8>?

    /// The type index of each imported function, in import order.
    var importedFunctionTypeIndices: [TypeIndex] = []

    /// The WebAssembly features Envoy's V8 accepts and WasmParser can decode. V8 ships SIMD,
    /// threads and tail calls, so modules using them load in Envoy.
    static let features: WasmFeatureSet = WasmFeatureSet.default.union([.simd, .threads, .tailCall])

    /// Decodes every section of `bytes` except function bodies.
    static func decode(_ bytes: [UInt8], framing: SectionFraming) throws(ModuleValidationError) -> ModuleStructure {
        var structure: ModuleStructure
        if let split = FastSplit(framing: framing, bytes: bytes), let decoded = decode(split, bytes) {
            structure = decoded
        } else {
            // WasmParser alone, data section included; when the module is bad, its error is the
            // one reported.
            structure = ModuleStructure()
            do {
                try structure.read(Parser(bytes: bytes, features: features))
            } catch {
                throw ModuleValidationError([
                    ModuleProblem(.malformed, "the module is corrupt: \(error)", envoyError: "Failed to load Wasm bytecode"),
                ])
            }
        }
        structure.importedFunctionTypeIndices = structure.imports.compactMap {
            if case .function(let index) = $0.descriptor { index } else { nil }
        }
        if let problem = structure.inconsistency() { throw ModuleValidationError([problem]) }
        return structure
    }

    /// The structure from WasmParser's reading of the sections before the data section, with the
    /// data section left to `DataSectionScanner`; nil when either declines or fails, so that the
    /// caller lets WasmParser decide. For a large module the scan and the custom sections after the
    /// data section are done on a second core meanwhile.
    private static func decode(_ split: FastSplit, _ bytes: [UInt8]) -> ModuleStructure? {
        let head: @Sendable () -> ModuleStructure? = {
            var structure = ModuleStructure()
            do { try structure.read(Parser(bytes: bytes[..<split.dataSectionStart], features: features)) } catch { return nil }
            return structure
        }
        let tail: @Sendable () -> (segments: Int, tail: ModuleStructure)? = {
            guard let count = DataSectionScanner.segmentCount(bytes, payload: split.dataSectionPayload) else { return nil }
            var structure = ModuleStructure()
            do { try structure.read(Parser(bytes: split.tail, features: features)) } catch { return nil }
            return (count, structure)
        }
        let (before, after) = bytes.count >= ParallelWork.minimumBytes ? ParallelWork.both(head, tail) : (head(), tail())
        guard var structure = before, let after else { return nil }
        structure.dataSegmentCount = after.segments
        // The tail holds only custom sections, and `read` keeps only the name section of those.
        structure.nameSection = after.tail.nameSection ?? structure.nameSection
        return structure
    }

    private mutating func read(_ parser: Parser<StaticByteStreamSource>) throws(WasmParserError) {
        var parser = parser
        while let payload = try parser.parseNext() {
            switch payload {
            case .typeSection(let groups):
                types += groups.flatMap(\.types).map { if case .function(let type) = $0.body { type } else { nil } }
            case .importSection(let imports): self.imports = imports
            case .functionSection(let indices): functionTypeIndices = indices
            case .exportSection(let exports): self.exports = exports
            case .codeSection(let codes): self.codes = codes
            case .dataSection(let segments): dataSegmentCount = segments.count
            case .dataCount(let count): dataCount = count
            case .customSection(let section) where section.name == "name": nameSection = section.bytes
            default: break
            }
        }
    }

    /// A contradiction between sections that V8 refuses but a parser alone does not notice.
    private func inconsistency() -> ModuleProblem? {
        func malformed(_ message: String) -> ModuleProblem {
            ModuleProblem(.malformed, "the module is corrupt: \(message)", envoyError: "Failed to load Wasm bytecode")
        }
        guard functionTypeIndices.count == codes.count else {
            return malformed("it declares \(functionTypeIndices.count) functions but has \(codes.count) function bodies")
        }
        if let dataCount, Int(dataCount) != dataSegmentCount {
            return malformed("its data count section says \(dataCount) segments but the data section has \(dataSegmentCount)")
        }
        for typeIndex in importedFunctionTypeIndices + functionTypeIndices where functionType(at: typeIndex) == nil {
            return malformed("a function refers to type \(typeIndex), which is not a function type of the module")
        }
        var exportNames = Set<String>()
        for export in exports where !exportNames.insert(export.name).inserted {
            return malformed("it exports the name \(export.name) twice")
        }
        let functionCount = importedFunctionTypeIndices.count + functionTypeIndices.count
        for export in exports {
            if case .function(let index) = export.descriptor, Int(index) >= functionCount {
                return malformed("export \(export.name) refers to function \(index), but the module has \(functionCount)")
            }
        }
        return nil
    }

    func functionType(at typeIndex: TypeIndex) -> FunctionType? {
        Int(typeIndex) < types.count ? types[Int(typeIndex)] : nil
    }

    /// The signature of a function by its index in the function index space (imports first).
    func signature(ofFunction index: UInt32) -> WasmSignature? {
        let imported = importedFunctionTypeIndices
        guard Int(index) < imported.count + functionTypeIndices.count else { return nil }
        let typeIndex = Int(index) < imported.count
            ? imported[Int(index)] : functionTypeIndices[Int(index) - imported.count]
        return functionType(at: typeIndex).map(WasmSignature.init)
    }
}

/// How to skip WasmParser for the data section: when the data section is the last non-custom
/// section and `DataSectionScanner` vouches for it, the module is decoded in two parts, the
/// sections before the data section and a synthetic module of the custom sections after it.
private struct FastSplit: Sendable {
    let dataSectionStart: Int
    let dataSectionPayload: Range<Int>
    /// A module header followed by the custom sections that come after the data section.
    let tail: [UInt8]

    init?(framing: SectionFraming, bytes: [UInt8]) {
        guard let dataIndex = framing.sections.firstIndex(where: { $0.id == 11 }) else { return nil }
        let after = framing.sections[(dataIndex + 1)...]
        guard after.allSatisfy({ $0.id == 0 }) else { return nil }
        let data = framing.sections[dataIndex]
        dataSectionStart = data.start
        dataSectionPayload = data.payload
        tail = Array(bytes[0..<8]) + bytes[data.payload.upperBound...]
    }
}
