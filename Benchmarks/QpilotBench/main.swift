// qpilot-bench: the figures in docs/benchmarks.md. Build and run in release mode:
//   swift build -c release --product qpilot-bench --scratch-path .build-release
//   .build-release/release/qpilot-bench [module.wasm]         validation and translation
//   .build-release/release/qpilot-bench pull oci://127.0.0.1:PORT/repo:tag [runs]
//                                                             (scripts/bench-pull sets up a registry)
//   .build-release/release/qpilot-bench fanout --xds … --admin … (scripts/bench-fanout runs qpilot and it)
//   .build-release/release/qpilot-bench hold|admin …            (scripts/load-and-fault runs qpilot and them)
//   .build-release/release/qpilot-bench mint [leaves]           the time to sign one leaf certificate
//   .build-release/release/qpilot-bench fetch --url … --pid …  a fetch storm on the module endpoint
//                                                             (scripts/bench-module-fetch runs qpilot and it)
//   .build-release/release/qpilot-bench egress --url … [--proxy …] POSTs through Envoy's egress listener
//                                                             (scripts/bench-intercept runs Envoy, qpilot and it)
import Foundation
import Modules
import PKI
import QpilotAPI
import QpilotServer
import Translator
import XDS

let arguments = Array(CommandLine.arguments.dropFirst())
print("load average: \(loadAverage()), \(ProcessInfo.processInfo.activeProcessorCount) cores")

if arguments.first == "pull" {
    guard arguments.count >= 2, let runs = arguments.count >= 3 ? Int(arguments[2]) : 30, runs > 0 else {
        print("usage: qpilot-bench pull oci://host:port/repository:tag [runs]")
        exit(2)
    }
    try await PullBenchmark.run(source: arguments[1], runs: runs)
    print("load average: \(loadAverage())")
    exit(0)
}

if arguments.first == "hold" || arguments.first == "admin" {
    do {
        if arguments.first == "hold" {
            try await FaultRun.hold(Array(arguments.dropFirst()))
        } else {
            try await FaultRun.admin(Array(arguments.dropFirst()))
        }
    } catch {
        print("\(arguments[0]): \(error)")
        exit(1)
    }
    exit(0)
}

if arguments.first == "mint" {
    // A leaf for a name Envoy has not asked for before is signed during the client's handshake:
    // its time is what the first handshake to a new intercepted name waits for.
    let count = arguments.count >= 2 ? Int(arguments[1]) ?? 1000 : 1000
    let authority = try CertificateAuthority.create()
    var index = 0
    let samples = try measure(runs: count, warmup: 20) {
        index += 1
        _ = try authority.issue(for: "host-\(index).example.test", lifetime: 24 * 3600)
    }.sorted()
    report("mint one leaf (P-256 key + ECDSA signature)", samples, extra: String(format: "p99 %.2f ms, max %.2f ms, %d leaves", samples[min(samples.count - 1, samples.count * 99 / 100)], samples.last!, count))
    print("load average: \(loadAverage())")
    exit(0)
}

if arguments.first == "egress" {
    do {
        try await EgressBenchmark.run(Array(arguments.dropFirst()))
    } catch {
        print("egress: \(error)")
        exit(1)
    }
    exit(0)
}

if arguments.first == "fetch" {
    do {
        try await FetchBenchmark.run(Array(arguments.dropFirst()))
    } catch {
        print("fetch: \(error)")
        exit(1)
    }
    print("load average: \(loadAverage())")
    exit(0)
}

if arguments.first == "fanout" {
    do {
        try await FanoutBenchmark.run(Array(arguments.dropFirst()))
    } catch {
        print("fanout: \(error)")
        exit(1)
    }
    print("load average: \(loadAverage())")
    exit(0)
}

// 1. Validation of a real module, every function body decoded.
let modulePath = arguments.first
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("shared/testdata/wasm/go-sdk-http-headers.wasm").path
if let bytes = FileManager.default.contents(atPath: modulePath) {
    let module = try LoadedModule(bytes: bytes, origin: modulePath)
    let samples = try measure(runs: 50) { _ = try ModuleValidator.validate(module) }
    let megabytes = Double(bytes.count) / 1_000_000
    report(
        "validate \((modulePath as NSString).lastPathComponent)", samples,
        extra: String(format: "%.1f MB, %.0f MB/s at the median", megabytes, megabytes / (median(samples) / 1000)))
} else {
    print("skipping validation: \(modulePath) not found (pass a module path)")
}

// 2. Translation: 1,000 middleware across 100 fleets, then encoding every fleet's snapshot.
let middleware = (0..<1000).map { index in
    Middleware(
        name: "mw-\(index)", sha256: String(format: "%064x", index), delivery: .remote,
        configuration: #"{"index":\#(index)}"#, failurePolicy: index % 2 == 0 ? .closed : .open,
        phase: Phase.allCases[index % 3], priority: index % 17, fleets: ["fleet-\(index % 100)"])
}
let state = DesiredState(
    egress: .init(address: "127.0.0.1", port: 10000), callout: .init(),
    moduleEndpoint: .init(host: "127.0.0.1", port: 18002), middleware: middleware)
let fleets = state.fleetKeys
let translate = measure(runs: 30) {
    for fleet in fleets { _ = Translator.translate(state, for: fleet) }
}
report("translate 1000 middleware, 100 fleets", translate)
let encode = try measure(runs: 30) {
    for fleet in fleets { _ = try SnapshotBuilder.snapshot(Translator.translate(state, for: fleet)) }
}
report("translate + encode snapshots (same)", encode)
print("load average: \(loadAverage())")
