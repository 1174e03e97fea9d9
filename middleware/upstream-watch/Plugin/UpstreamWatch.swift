// upstream-watch: records each exchange's destination host, status, latency and failure flags;
// keeps per-host metrics and a rolling window; reports hosts that become degraded (or recover)
// to a collector, batched on a timer. Configuration: UpstreamWatchConfig.swift.
import ProxyWasm

@main
enum UpstreamWatch {
    static func main() {
        setRootContext { UpstreamWatchRoot() }
    }
}

final class UpstreamWatchRoot: RootContext {
    private(set) var config: UpstreamWatchConfig? = nil
    private var watcher = Watcher(thresholds: HealthThresholds())
    private var hostMetrics: [String: HostMetrics] = [:]
    private var reportInFlight = false
    private var reportsSent: Counter? = nil
    private var reportsFailed: Counter? = nil
    private var heap: HeapGauges? = nil

    override func onConfigure(configuration: [UInt8]) -> Bool {
        switch UpstreamWatchConfig.parse(configuration) {
        case .failure(let error):
            Log.error("upstream-watch: configuration rejected: \(error.message)")
            return false
        case .success(let parsed):
            config = parsed
            watcher = Watcher(thresholds: parsed.thresholds, windowMilliseconds: parsed.windowMilliseconds, maximumHosts: parsed.maximumHosts)
            hostMetrics = [:]
            reportsSent = Counter("\(parsed.metricPrefix).reports_sent")
            reportsFailed = Counter("\(parsed.metricPrefix).reports_failed")
            heap = HeapGauges(prefix: parsed.metricPrefix)
            setTickPeriod(milliseconds: parsed.reportIntervalMilliseconds)
            Log.info("upstream-watch: configured, reporting to \(parsed.collectorURL) every \(parsed.reportIntervalMilliseconds) ms")
            return true
        }
    }

    override func makeHTTPContext() -> HTTPContext? {
        config == nil ? nil : UpstreamWatchExchange(root: self)
    }

    /// Called from an exchange's `onDone`.
    func record(host: String, status: Int?, flags: ResponseFlags, latencyMilliseconds: UInt64) {
        guard let config else { return }
        let error = ErrorClass.classify(status: status, flags: flags)
        let name = watcher.trackedName(host)
        let metrics = metricsFor(name, prefix: config.metricPrefix)
        metrics.requests.increment()
        metrics.latency.record(latencyMilliseconds)
        if let error {
            metrics.errors[ErrorClass.allCases.firstIndex(of: error) ?? 0].increment()
        }
        watcher.record(host: host, at: Clock.milliseconds, latencyMilliseconds: latencyMilliseconds, error: error)
        heap?.publish()
    }

    /// Sends what changed since the last report; runs on the timer only, never while an
    /// exchange waits.
    override func onTick() {
        guard let config, !reportInFlight else { return }
        let changes = watcher.tick(at: Clock.milliseconds)
        guard !changes.isEmpty else { return }
        let body = Report.body(
            source: Properties.nodeID ?? "envoy", time: Clock.milliseconds, changes: changes, degraded: watcher.degradedHosts)
        for change in changes {
            Log.info("upstream-watch: \(change.host) \(change.degraded ? "degraded" : "recovered"): \(change.reason)")
        }
        do {
            reportInFlight = true
            try HTTPCall.send(
                method: "POST", url: config.collectorURL, headers: [HeaderPair("content-type", "application/json")],
                body: Array(body.utf8), cluster: config.calloutCluster, timeoutMilliseconds: 5000
            ) { response in
                self.reportInFlight = false
                if let status = response.status, status >= 200 && status < 300 {
                    self.watcher.reportDelivered(changes.count)
                    self.reportsSent?.increment()
                } else {
                    self.reportsFailed?.increment()
                    Log.warn("upstream-watch: the collector answered \(response.status.map { "\($0)" } ?? "nothing"); will retry")
                }
            }
        } catch {
            reportInFlight = false
            reportsFailed?.increment()
            Log.warn("upstream-watch: report not sent: \(error.message)")
        }
    }

    private func metricsFor(_ host: String, prefix: String) -> HostMetrics {
        if let existing = hostMetrics[host] {
            return existing
        }
        let metrics = HostMetrics(prefix: "\(prefix).\(Report.metricName(host))")
        hostMetrics[host] = metrics
        return metrics
    }
}

/// One host's stats: requests, errors by class, latency.
struct HostMetrics {
    let requests: Counter
    let errors: [Counter]
    let latency: Histogram

    init(prefix: String) {
        requests = Counter("\(prefix).requests")
        errors = ErrorClass.allCases.map { Counter("\(prefix).errors.\($0.rawValue)") }
        latency = Histogram("\(prefix).latency_ms")
    }
}
