import ProxyWasm

/// The thresholds that make a host degraded.
public struct HealthThresholds: Equatable, Sendable {
    /// Degraded at or above this error rate (0–1).
    public var errorRate: Double
    /// Degraded at or above this p95 latency.
    public var p95Milliseconds: UInt64
    /// Fewer requests than this in the window leave the state as it is.
    public var minimumRequests: Int

    /// Creates thresholds.
    public init(errorRate: Double = 0.5, p95Milliseconds: UInt64 = 1000, minimumRequests: Int = 10) {
        self.errorRate = errorRate
        self.p95Milliseconds = p95Milliseconds
        self.minimumRequests = minimumRequests
    }

    /// Why `summary` is degraded ("error rate 0.60 ≥ 0.50"), or nil when it is healthy.
    public func degradation(of summary: WindowSummary) -> String? {
        var reasons: [String] = []
        if summary.errorRate >= errorRate {
            reasons.append("error rate \(Fixed.format(summary.errorRate)) >= \(Fixed.format(errorRate))")
        }
        if summary.p95Milliseconds >= p95Milliseconds {
            reasons.append("p95 latency \(summary.p95Milliseconds) ms >= \(p95Milliseconds) ms")
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: ", ")
    }
}

/// A host that became degraded or recovered.
public struct HealthChange: Equatable, Sendable {
    /// The host, as the request named it (`:authority`).
    public let host: String
    /// True when the host became degraded, false when it recovered.
    public let degraded: Bool
    /// Why (for a degradation) or the figures (for a recovery).
    public let reason: String
    /// The window when the change was seen.
    public let summary: WindowSummary
    /// When, in milliseconds since the epoch.
    public let time: UInt64
}

/// Rolling windows for every host, the degraded/healthy state of each, and the changes that wait
/// for the next report. Pure: the plugin feeds it exchanges and clock readings.
public struct Watcher: Sendable {
    /// The thresholds.
    public let thresholds: HealthThresholds
    /// At most this many hosts are tracked; later ones are counted under ``overflowHost``.
    public let maximumHosts: Int
    /// The name under which hosts beyond ``maximumHosts`` are tracked.
    public static let overflowHost = "(other)"
    /// At most this many unsent changes are kept (the oldest go first).
    public static let maximumPendingChanges = 200

    private let bucketCount: Int
    private let bucketMilliseconds: UInt64
    private var windows: [String: RollingWindow] = [:]
    private var degraded: Set<String> = []
    /// Changes not yet reported.
    public private(set) var pending: [HealthChange] = []

    /// Creates a watcher.
    public init(thresholds: HealthThresholds, windowMilliseconds: UInt64 = 60_000, bucketCount: Int = 12, maximumHosts: Int = 500) {
        self.thresholds = thresholds
        self.maximumHosts = max(1, maximumHosts)
        self.bucketCount = max(1, bucketCount)
        self.bucketMilliseconds = max(1, windowMilliseconds / UInt64(max(1, bucketCount)))
    }

    /// The hosts now degraded, sorted.
    public var degradedHosts: [String] { degraded.sorted() }

    /// The name `host` is tracked under (itself, or ``overflowHost`` once the table is full).
    public func trackedName(_ host: String) -> String {
        windows[host] != nil || windows.count < maximumHosts ? host : Watcher.overflowHost
    }

    /// Records one finished exchange and re-judges its host.
    public mutating func record(host: String, at now: UInt64, latencyMilliseconds: UInt64, error: ErrorClass?) {
        let name = trackedName(host)
        var window = windows[name] ?? RollingWindow(bucketCount: bucketCount, bucketMilliseconds: bucketMilliseconds)
        window.record(at: now, latencyMilliseconds: latencyMilliseconds, isError: error != nil)
        windows[name] = window
        judge(name, window.summary(at: now), at: now)
    }

    /// Re-judges every host at `now` (a host whose errors have aged out of the window
    /// recovers) and returns the changes to report, which stay pending until
    /// ``reportDelivered(_:)``.
    public mutating func tick(at now: UInt64) -> [HealthChange] {
        for (host, window) in windows {
            judge(host, window.summary(at: now), at: now)
        }
        return pending
    }

    /// Forgets the first `count` pending changes, which the collector accepted.
    public mutating func reportDelivered(_ count: Int) {
        pending.removeFirst(min(count, pending.count))
    }

    /// The current window of `host`.
    public func summary(of host: String, at now: UInt64) -> WindowSummary? {
        windows[host]?.summary(at: now)
    }

    private mutating func judge(_ host: String, _ summary: WindowSummary, at now: UInt64) {
        let wasDegraded = degraded.contains(host)
        if summary.requests < thresholds.minimumRequests {
            // Too little traffic to judge; a degraded host with no traffic left recovers only
            // once its window is empty.
            if wasDegraded && summary.requests == 0 {
                degraded.remove(host)
                queue(HealthChange(host: host, degraded: false, reason: "no traffic in the window", summary: summary, time: now))
            }
            return
        }
        let reason = thresholds.degradation(of: summary)
        if let reason, !wasDegraded {
            degraded.insert(host)
            queue(HealthChange(host: host, degraded: true, reason: reason, summary: summary, time: now))
        } else if reason == nil && wasDegraded {
            degraded.remove(host)
            let figures = "error rate \(Fixed.format(summary.errorRate)), p95 latency \(summary.p95Milliseconds) ms"
            queue(HealthChange(host: host, degraded: false, reason: figures, summary: summary, time: now))
        }
    }

    private mutating func queue(_ change: HealthChange) {
        pending.append(change)
        if pending.count > Watcher.maximumPendingChanges {
            pending.removeFirst(pending.count - Watcher.maximumPendingChanges)
        }
    }
}

/// Decimal formatting without Foundation.
public enum Fixed {
    /// `value` with two decimals ("0.60").
    public static func format(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded(.toNearestOrEven))
        let fraction = hundredths % 100
        return "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }
}
