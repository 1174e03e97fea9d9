/// Requests, errors and a latency distribution over the last `duration`, kept in a ring of
/// time buckets, so memory per host is fixed however much traffic there is.
public struct RollingWindow: Sendable {
    /// Upper bounds of the latency bins, in milliseconds; a last bin holds everything slower.
    public static let latencyBounds: [UInt64] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000]

    struct Bucket: Sendable {
        var start: UInt64 = 0
        var requests = 0
        var errors = 0
        var slowest: UInt64 = 0
        var bins = [Int](repeating: 0, count: RollingWindow.latencyBounds.count + 1)

        mutating func reset(start: UInt64) {
            self.start = start
            requests = 0
            errors = 0
            slowest = 0
            for index in bins.indices { bins[index] = 0 }
        }
    }

    /// Width of one bucket.
    public let bucketMilliseconds: UInt64
    private var buckets: [Bucket]

    /// A window of `bucketCount` buckets of `bucketMilliseconds` each.
    public init(bucketCount: Int = 12, bucketMilliseconds: UInt64 = 5000) {
        self.bucketMilliseconds = max(1, bucketMilliseconds)
        // One Bucket() per slot, not Array(repeating:), whose copies would share one bins array
        // and allocate their own only when first written: memory would creep up for a window's
        // length instead of being fixed from the start.
        self.buckets = (0..<max(1, bucketCount)).map { _ in Bucket() }
    }

    /// The window's length.
    public var durationMilliseconds: UInt64 { bucketMilliseconds * UInt64(buckets.count) }

    /// Records one exchange that ended at `now` (milliseconds).
    public mutating func record(at now: UInt64, latencyMilliseconds: UInt64, isError: Bool) {
        let index = bucketIndex(for: now)
        buckets[index].requests += 1
        if isError {
            buckets[index].errors += 1
        }
        buckets[index].slowest = max(buckets[index].slowest, latencyMilliseconds)
        var bin = 0
        while bin < RollingWindow.latencyBounds.count && latencyMilliseconds > RollingWindow.latencyBounds[bin] {
            bin += 1
        }
        buckets[index].bins[bin] += 1
    }

    /// Totals over the window ending at `now`.
    public func summary(at now: UInt64) -> WindowSummary {
        var requests = 0
        var errors = 0
        var slowest: UInt64 = 0
        var bins = [Int](repeating: 0, count: RollingWindow.latencyBounds.count + 1)
        for bucket in buckets where bucket.requests > 0 && bucket.start <= now && now - bucket.start < durationMilliseconds {
            requests += bucket.requests
            errors += bucket.errors
            slowest = max(slowest, bucket.slowest)
            for index in bins.indices { bins[index] += bucket.bins[index] }
        }
        return WindowSummary(requests: requests, errors: errors, p95Milliseconds: RollingWindow.percentile(0.95, bins: bins, total: requests, slowest: slowest))
    }

    /// The bin upper bound under which `fraction` of the requests fall (the slowest latency
    /// seen, for the open last bin; never more than that).
    static func percentile(_ fraction: Double, bins: [Int], total: Int, slowest: UInt64) -> UInt64 {
        guard total > 0 else { return 0 }
        let rank = Int((Double(total) * fraction).rounded(.up))
        var seen = 0
        for (index, count) in bins.enumerated() {
            seen += count
            if seen >= rank {
                return index < latencyBounds.count ? min(latencyBounds[index], slowest) : slowest
            }
        }
        return slowest
    }

    private mutating func bucketIndex(for now: UInt64) -> Int {
        let start = now / bucketMilliseconds * bucketMilliseconds
        let index = Int((now / bucketMilliseconds) % UInt64(buckets.count))
        if buckets[index].start != start {
            buckets[index].reset(start: start)
        }
        return index
    }
}

/// A window's totals.
public struct WindowSummary: Equatable, Sendable {
    /// Exchanges in the window.
    public let requests: Int
    /// Exchanges that failed (see ``ErrorClass``).
    public let errors: Int
    /// The 95th-percentile latency, to the precision of the latency bins.
    public let p95Milliseconds: UInt64

    /// Errors over requests, 0 without requests.
    public var errorRate: Double { requests == 0 ? 0 : Double(errors) / Double(requests) }
}
