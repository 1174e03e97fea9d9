import ProxyWasm
import Testing
import UpstreamWatchLogic

@Suite("Rolling window")
struct RollingWindowTests {
    @Test("counts requests and errors inside the window")
    func counts() {
        var window = RollingWindow(bucketCount: 6, bucketMilliseconds: 10_000)  // one minute
        for second in 0..<30 {
            window.record(at: UInt64(second) * 1000, latencyMilliseconds: 20, isError: second % 3 == 0)
        }
        let summary = window.summary(at: 30_000)
        #expect(summary.requests == 30)
        #expect(summary.errors == 10)
        #expect(summary.errorRate > 0.33 && summary.errorRate < 0.34)
    }

    @Test("old buckets age out, and a reused bucket starts empty")
    func expiry() {
        var window = RollingWindow(bucketCount: 6, bucketMilliseconds: 10_000)
        window.record(at: 1_000, latencyMilliseconds: 5, isError: true)
        #expect(window.summary(at: 59_000).requests == 1)
        #expect(window.summary(at: 61_000).requests == 0)
        window.record(at: 61_500, latencyMilliseconds: 5, isError: false)  // same ring slot as t=1s
        let summary = window.summary(at: 62_000)
        #expect(summary.requests == 1)
        #expect(summary.errors == 0)
    }

    @Test("p95 comes from the latency bins, capped by the slowest request")
    func percentile() {
        var window = RollingWindow()
        for index in 0..<100 {
            window.record(at: 1000, latencyMilliseconds: index < 94 ? 8 : 1800, isError: false)
        }
        #expect(window.summary(at: 1000).p95Milliseconds == 1800, "bin bound 2000, capped by the slowest, 1800")
        var fast = RollingWindow()
        for _ in 0..<100 { fast.record(at: 1000, latencyMilliseconds: 7, isError: false) }
        #expect(fast.summary(at: 1000).p95Milliseconds == 7)
        var slow = RollingWindow()
        for _ in 0..<10 { slow.record(at: 1000, latencyMilliseconds: 42_000, isError: false) }
        #expect(slow.summary(at: 1000).p95Milliseconds == 42_000)
        #expect(RollingWindow().summary(at: 5).p95Milliseconds == 0)
    }
}

@Suite("Error classes")
struct ErrorClassTests {
    @Test("classifies by flags first, then status")
    func classify() {
        #expect(ErrorClass.classify(status: 200, flags: []) == nil)
        #expect(ErrorClass.classify(status: 404, flags: []) == nil)
        #expect(ErrorClass.classify(status: 500, flags: []) == .http5xx)
        #expect(ErrorClass.classify(status: 503, flags: .upstreamConnectionFailure) == .connect)
        #expect(ErrorClass.classify(status: 504, flags: .upstreamRequestTimeout) == .timeout)
        #expect(ErrorClass.classify(status: 503, flags: .upstreamRemoteReset) == .reset)
        #expect(ErrorClass.classify(status: 0, flags: []) == .reset)
        #expect(ErrorClass.classify(status: nil, flags: .dnsResolutionFailed) == .connect)
    }
}
