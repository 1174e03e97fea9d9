import Foundation

/// Runs `body` `runs` times after `warmup` runs and returns the sorted durations in milliseconds.
func measure(runs: Int, warmup: Int = 3, _ body: () throws -> Void) rethrows -> [Double] {
    for _ in 0..<warmup { try body() }
    var samples: [Double] = []
    for _ in 0..<runs {
        let start = ContinuousClock.now
        try body()
        samples.append(milliseconds(ContinuousClock.now - start))
    }
    return samples.sorted()
}

func milliseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
}

/// The median of sorted samples.
func median(_ samples: [Double]) -> Double { samples[samples.count / 2] }

func report(_ name: String, _ samples: [Double], extra: String = "") {
    let p90 = samples[min(samples.count - 1, samples.count * 9 / 10)]
    print(String(format: "%-44@ median %8.2f ms  min %8.2f ms  p90 %8.2f ms  %@", name as NSString, median(samples), samples[0], p90, extra as NSString))
}

/// The machine's load averages, printed beside the figures because the machine is shared.
func loadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))
        .map { $0.split(separator: " ").prefix(3).joined(separator: " ") } ?? "unknown"
}

/// The `p`th percentile of sorted samples (nearest rank).
func percentile(_ sorted: [Double], _ p: Int) -> Double {
    sorted[min(sorted.count - 1, max(0, (sorted.count * p + 99) / 100 - 1))]
}
