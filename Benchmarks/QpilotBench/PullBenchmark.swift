import Foundation
import Modules

/// Times what qpilot's module resolver does for an `oci://` source that is not in its store yet:
/// fetch the module from the registry (tag → manifest → blob, hashed on arrival), then validate it.
/// Nothing is cached between runs except, as in qpilot, the HTTP client's kept-alive connections.
enum PullBenchmark {
    static func run(source text: String, runs: Int) async throws {
        let source = try ModuleSource(parsing: text)
        guard case .oci = source else { throw ModuleError("pull needs an oci:// reference, not \(text)") }
        let fetcher = ModuleFetcher(limits: FetchLimits())
        var fetchSamples: [Double] = []
        var validateSamples: [Double] = []
        var totalSamples: [Double] = []
        var size = 0
        let warmup = 3
        for run in 0..<(warmup + runs) {
            let start = ContinuousClock.now
            let fetched = try await fetcher.fetch(source)
            let fetchedAt = ContinuousClock.now
            _ = try ModuleValidator.validate(fetched.module)
            let end = ContinuousClock.now
            if run == 0 {
                size = fetched.module.bytes.count
                print(String(format: "first pull (new connection)                   %8.2f ms", milliseconds(end - start)))
            }
            guard run >= warmup else { continue }
            fetchSamples.append(milliseconds(fetchedAt - start))
            validateSamples.append(milliseconds(end - fetchedAt))
            totalSamples.append(milliseconds(end - start))
        }
        let megabytes = Double(size) / 1_000_000
        report("pull + validate \(text.split(separator: "/").last ?? "")", totalSamples.sorted(),
               extra: String(format: "%.1f MB; %d runs", megabytes, runs))
        report("  of which fetch (manifest, blob, sha256)", fetchSamples.sorted())
        report("  of which validate", validateSamples.sorted())
    }
}
