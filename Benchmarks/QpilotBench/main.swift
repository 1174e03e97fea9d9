// qpilot-bench: the figures in docs/benchmarks.md. Build and run in release mode:
//   swift build -c release --product qpilot-bench && .build/release/qpilot-bench [module.wasm]
import Foundation
import Modules
import QpilotServer
import Translator
import XDS

/// Runs `body` `runs` times after `warmup` runs and returns the sorted durations in milliseconds.
func measure(runs: Int, warmup: Int = 3, _ body: () throws -> Void) rethrows -> [Double] {
    for _ in 0..<warmup { try body() }
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        samples.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
    }
    return samples.sorted()
}

func report(_ name: String, _ samples: [Double], extra: String = "") {
    let median = samples[samples.count / 2]
    let p90 = samples[min(samples.count - 1, samples.count * 9 / 10)]
    print(String(format: "%-44@ median %8.2f ms  min %8.2f ms  p90 %8.2f ms  %@", name as NSString, median, samples[0], p90, extra as NSString))
}

// 1. Validation of a real module, every function body decoded.
let modulePath = CommandLine.arguments.dropFirst().first
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("shared/testdata/wasm/go-sdk-http-headers.wasm").path
if let bytes = FileManager.default.contents(atPath: modulePath) {
    let module = try LoadedModule(bytes: bytes, origin: modulePath)
    let samples = try measure(runs: 50) { _ = try ModuleValidator.validate(module) }
    let megabytes = Double(bytes.count) / 1_000_000
    report(
        "validate \((modulePath as NSString).lastPathComponent)", samples,
        extra: String(format: "%.1f MB, %.0f MB/s at the median", megabytes, megabytes / (samples[samples.count / 2] / 1000)))
} else {
    print("skipping validation: \(modulePath) not found (pass a module path)")
}

// 2. Translation: 1,000 middleware across 100 fleets, then encoding every fleet's snapshot.
let middleware = (0..<1000).map { index in
    Middleware(
        name: "mw-\(index)", sha256: String(format: "%064x", index), delivery: .remote,
        configuration: #"{"index":\#(index)}"#, failurePolicy: index % 2 == 0 ? .closed : .open,
        phase: Middleware.Phase.allCases[index % 3], priority: index % 17, fleets: ["fleet-\(index % 100)"])
}
let state = DesiredState(
    egress: .init(address: "127.0.0.1", port: 10000), callout: .init(),
    moduleEndpoint: .init(host: "127.0.0.1", port: 18002), middleware: middleware)
let fleets = state.namedFleets.sorted()
let translate = measure(runs: 30) {
    for fleet in fleets { _ = Translator.translate(state, fleet: fleet) }
    _ = Translator.translate(state, fleet: nil)
}
report("translate 1000 middleware, 100 fleets", translate)
let encode = try measure(runs: 30) {
    for fleet in fleets { _ = try SnapshotBuilder.snapshot(Translator.translate(state, fleet: fleet)) }
    _ = try SnapshotBuilder.snapshot(Translator.translate(state, fleet: nil))
}
report("translate + encode snapshots (same)", encode)
