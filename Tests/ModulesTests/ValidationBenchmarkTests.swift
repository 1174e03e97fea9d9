import Foundation
import Modules
import Testing

/// Validation speed on the 3.4 MB Go-SDK module. A measurement, not a test of speed: it only
/// runs with QPILOT_BENCH=1 and never fails on time. Build in release for numbers that mean
/// anything (`swift test -c release -Xswiftc -enable-testing --filter ValidationBenchmark`).
@Suite("Validation benchmark")
struct ValidationBenchmarkTests {
    static var enabled: Bool {
        ProcessInfo.processInfo.environment["QPILOT_BENCH"] == "1" && ValidationSamples.sharedModulesExist
    }

    @Test("validating go-sdk-http-headers.wasm", .enabled(if: enabled, "set QPILOT_BENCH=1 to measure"))
    func validateGoModule() throws {
        let data = try ValidationSamples.shared("go-sdk-http-headers.wasm")
        let module = try LoadedModule(bytes: data, origin: "go-sdk-http-headers.wasm")
        let megabytes = Double(data.count) / 1_000_000
        for (label, run) in [
            ("validate(Data), hashing included", { _ = try ModuleValidator.validate(data) }),
            ("validate(LoadedModule), hash known", { _ = try ModuleValidator.validate(module) }),
        ] as [(String, () throws -> Void)] {
            let median = try Self.medianMilliseconds(runs: Self.runs, run)
            print(String(format: "validation benchmark: %@: median %.2f ms, %.0f MB/s (%.2f MB, %d cores)",
                         label, median, megabytes / (median / 1000), megabytes,
                         ProcessInfo.processInfo.activeProcessorCount))
        }
    }

    /// A debug build of WasmParser is about 100 times slower; a few runs are enough to see that.
    #if DEBUG
    static let runs = 5
    #else
    static let runs = 51
    #endif

    static func medianMilliseconds(runs: Int, _ body: () throws -> Void) throws -> Double {
        try body()  // warm up: page in the bytes, fill caches
        var samples: [Double] = []
        for _ in 0..<runs {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000_000)
        }
        return samples.sorted()[samples.count / 2]
    }
}
