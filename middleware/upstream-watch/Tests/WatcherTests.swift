import ProxyWasm
import Testing
import UpstreamWatchLogic

@Suite("Watcher")
struct WatcherTests {
    let thresholds = HealthThresholds(errorRate: 0.5, p95Milliseconds: 1000, minimumRequests: 10)

    @Test("a host answering 500s becomes degraded once, and recovers when errors age out")
    func errors() {
        var watcher = Watcher(thresholds: thresholds, windowMilliseconds: 60_000)
        for index in 0..<9 {
            watcher.record(host: "api.example.com", at: 1000 + UInt64(index), latencyMilliseconds: 10, error: .http5xx)
        }
        #expect(watcher.pending.isEmpty, "fewer than minRequests: no judgement yet")
        for index in 0..<5 {
            watcher.record(host: "api.example.com", at: 2000 + UInt64(index), latencyMilliseconds: 10, error: index < 2 ? .http5xx : nil)
        }
        #expect(watcher.pending.count == 1)
        #expect(watcher.pending[0].degraded)
        #expect(watcher.pending[0].reason == "error rate 1.00 >= 0.50", "judged as soon as minRequests is reached")
        #expect(watcher.degradedHosts == ["api.example.com"])

        let changes = watcher.tick(at: 3000)
        #expect(changes.count == 1)
        watcher.reportDelivered(changes.count)
        #expect(watcher.pending.isEmpty)

        // A minute later the errors are out of the window; fresh successes recover the host.
        for index in 0..<10 {
            watcher.record(host: "api.example.com", at: 70_000 + UInt64(index), latencyMilliseconds: 10, error: nil)
        }
        #expect(watcher.pending.count == 1)
        #expect(!watcher.pending[0].degraded)
        #expect(watcher.degradedHosts.isEmpty)
    }

    @Test("slow responses degrade a host by p95 latency")
    func slow() {
        var watcher = Watcher(thresholds: thresholds)
        for index in 0..<20 {
            watcher.record(host: "slow.example.com", at: 500, latencyMilliseconds: index < 10 ? 50 : 1200, error: nil)
        }
        #expect(watcher.pending.map { $0.host } == ["slow.example.com"])
        #expect(watcher.pending[0].reason == "p95 latency 1200 ms >= 1000 ms")
    }

    @Test("a degraded host without traffic recovers when its window empties")
    func idleRecovery() {
        var watcher = Watcher(thresholds: thresholds, windowMilliseconds: 60_000)
        for _ in 0..<10 {
            watcher.record(host: "h", at: 1000, latencyMilliseconds: 10, error: .connect)
        }
        watcher.reportDelivered(watcher.tick(at: 2000).count)
        let changes = watcher.tick(at: 100_000)
        #expect(changes.count == 1 && !changes[0].degraded && changes[0].reason == "no traffic in the window")
    }

    @Test("hosts beyond the limit share one entry")
    func hostLimit() {
        var watcher = Watcher(thresholds: thresholds, maximumHosts: 2)
        watcher.record(host: "a", at: 1, latencyMilliseconds: 1, error: nil)
        watcher.record(host: "b", at: 1, latencyMilliseconds: 1, error: nil)
        #expect(watcher.trackedName("c") == Watcher.overflowHost)
        #expect(watcher.trackedName("a") == "a")
    }

    @Test("the report is JSON a collector can read")
    func report() throws {
        var watcher = Watcher(thresholds: thresholds)
        for _ in 0..<10 {
            watcher.record(host: "api.example.com:443", at: 1000, latencyMilliseconds: 30, error: .http5xx)
        }
        let body = Report.body(source: "envoy-1", time: 1234, changes: watcher.pending, degraded: watcher.degradedHosts)
        let json = try JSON.parse(body)
        #expect(json["source"]?.stringValue == "envoy-1")
        #expect(json["changes"]?[0]?["host"]?.stringValue == "api.example.com:443")
        #expect(json["changes"]?[0]?["state"]?.stringValue == "degraded")
        #expect(json["changes"]?[0]?["errors"]?.intValue == 10)
        #expect(json["degraded"]?[0]?.stringValue == "api.example.com:443")
        #expect(Report.metricName("API.example.com:443") == "api_example_com_443")
    }
}

@Suite("upstream-watch configuration")
struct UpstreamWatchConfigTests {
    @Test("collectorURL alone is enough")
    func defaults() throws {
        let config = try UpstreamWatchConfig.parse(Array(#"{"collectorURL": "http://127.0.0.1:9000/r"}"#.utf8)).get()
        #expect(config.reportIntervalMilliseconds == 10_000)
        #expect(config.windowMilliseconds == 60_000)
        #expect(config.thresholds == HealthThresholds())
        #expect(config.calloutCluster == "qpilot_callout")
    }

    @Test("refuses mistakes", arguments: [
        ("{}", "'collectorURL' is required"),
        (#"{"collectorURL": "collector:9000"}"#, "'collectorURL'"),
        (#"{"collectorURL": "http://c/r", "errorRateThreshold": 2}"#, "'errorRateThreshold'"),
        (#"{"collectorURL": "http://c/r", "windowSeconds": 0}"#, "'windowSeconds'"),
        (#"{"collectorURL": "http://c/r", "interval": 5}"#, "unknown field 'interval'"),
    ])
    func refuses(text: String, message: String) {
        switch UpstreamWatchConfig.parse(Array(text.utf8)) {
        case .success: Issue.record("accepted \(text)")
        case .failure(let error): #expect(error.message.contains(message), "\(error.message)")
        }
    }
}
