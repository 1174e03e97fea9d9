// qpilot-fuzz: libFuzzer targets for the parsers that read what users and peers send.
//
// Built by scripts/fuzz with `-sanitize=fuzzer,address -D FUZZING`: libFuzzer then drives
// `LLVMFuzzerTestOneInput`, and QPILOT_FUZZ_TARGET chooses what it feeds. Built normally (as
// `make test` does), it is a replayer instead: `qpilot-fuzz TARGET FILE…` runs each file once,
// which is how Fuzz/regressions/ (every crash fuzzing found) keeps being tested.
import Foundation
@testable import Modules
import QpilotServer

/// The targets, by name: each takes arbitrary bytes and must return, never trap or hang.
enum FuzzTarget: String, CaseIterable {
    case validator, archive, tar, reference, sotw, delta, config

    func run(_ data: Data) {
        switch self {
        case .validator:
            // Whatever the bytes, a report or a refusal.
            if let module = try? LoadedModule(bytes: data, origin: "fuzz") { _ = try? ModuleValidator.validate(module) }
        case .archive:
            let limits = FetchLimits(maxModuleBytes: 1 << 20, maxDecompressedBytes: 4 << 20)
            _ = try? Archive.module(fromTarGz: data, limits: limits, origin: "fuzz")
        case .tar:
            _ = try? TarReader.files(in: data, maxTotalBytes: 4 << 20)
        case .reference:
            let text = String(decoding: data, as: UTF8.self)
            _ = try? OCIReference(parsing: text)
            _ = try? ModuleSource(parsing: text, relativeTo: URL(fileURLWithPath: "/srv"))
            _ = try? ModuleSource(parsing: "oci://" + text, relativeTo: nil)
        case .sotw:
            StreamFuzz.sotw(data)
        case .delta:
            StreamFuzz.delta(data)
        case .config:
            // qpilot.yaml: any text parses or is refused with a line and a field, never a trap.
            _ = try? QpilotConfig.parse(String(decoding: data, as: UTF8.self), directory: URL(fileURLWithPath: "/etc/qpilot"))
        }
    }
}

#if FUZZING
let selected: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["QPILOT_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("set QPILOT_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

/// libFuzzer's callback. Whichever `main` the link keeps (libFuzzer's, which calls this, or
/// SwiftPM's, below, which hands this to the driver) runs the same fuzzer.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    selected.run(start.map { Data(bytes: $0, count: count) } ?? Data())
    return 0
}

/// libFuzzer's entry for a program that has its own `main` (SwiftPM gives every executable one).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@main
enum Fuzzer {
    static func main() {
        _ = selected
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { start, count in
            selected.run(start.map { Data(bytes: $0, count: count) } ?? Data())
            return 0
        })
    }
}
#else
@main
enum Replayer {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(
                Data("usage: qpilot-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...\n".utf8))
            exit(64)
        }
        var count = 0
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("qpilot-fuzz: cannot read \(path)\n".utf8))
                exit(1)
            }
            target.run(data)
            count += 1
        }
        print("qpilot-fuzz \(name): \(count) input\(count == 1 ? "" : "s") ran without a crash")
    }
}
#endif
