import Foundation
import QpilotTestSupport
import Testing

@testable import XDS

/// The NACK of a module Envoy fetches by URL: "still fetching" or real.
@Suite("Remote delivery: telling a fetching NACK from a real one")
struct FetchRetryTests {
    static let sentAt = ContinuousClock.now

    static func record(_ event: ModuleFetches.Event, _ offset: Duration, sequence: Int = 1) -> ModuleFetches.Record {
        .init(event: event, at: sentAt + offset, sequence: sequence)
    }

    static func decide(attempt: Int = 1, _ download: ModuleFetches.Record?, refusedBefore: Bool = false, failures: Int = 0)
        -> FetchRetry.Decision
    {
        FetchRetry.decide(attempt: attempt, download: download, sentAt: sentAt, refusedBefore: refusedBefore, failures: failures)
    }

    @Test("a download that ended before the config was sent makes the NACK real")
    func completedBefore() {
        #expect(Self.decide(Self.record(.completed, .seconds(-5))) == .reject(note: nil))
        #expect(Self.decide(attempt: 3, Self.record(.completed, .seconds(-3))) == .reject(note: nil))
    }

    @Test("a download that ended just before or after the send is resent after the settle time; one that ended a little earlier, a second later")
    func completedJustNow() {
        #expect(Self.decide(Self.record(.completed, .milliseconds(-100))) == .retry(.delay(FetchRetry.settle)))
        #expect(Self.decide(Self.record(.completed, .milliseconds(30))) == .retry(.delay(FetchRetry.settle)))
        #expect(Self.decide(attempt: 2, Self.record(.completed, .seconds(-1))) == .retry(.delay(.seconds(1))))
    }

    @Test("a running download is waited for")
    func running() {
        #expect(Self.decide(Self.record(.started, .zero)) == .retry(.downloadEnds(limit: FetchRetry.downloadLimit)))
    }

    @Test("a failed download is retried after Envoy's negative cache, a few times, then reported with the reason")
    func failed() {
        let failed = Self.record(.failed("qpilot answered 404"), .zero)
        #expect(Self.decide(failed, failures: 1) == .retry(.delay(FetchRetry.failureCache)))
        guard case .reject(let note) = Self.decide(attempt: 4, failed, failures: FetchRetry.failedAttempts) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(note?.contains("could not download the module") == true)
        #expect(note?.contains("qpilot answered 404") == true)
    }

    @Test("no download seen: backoff that doubles, then a real NACK that says no download was seen")
    func unseen() {
        #expect(Self.decide(attempt: 1, nil) == .retry(.downloadOr(limit: .milliseconds(500))))
        #expect(Self.decide(attempt: 2, nil) == .retry(.downloadOr(limit: .milliseconds(1000))))
        #expect(Self.decide(attempt: 3, nil) == .retry(.downloadOr(limit: .milliseconds(2000))))
        guard case .reject(let note) = Self.decide(attempt: FetchRetry.unseenAttempts, nil) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(note?.contains("saw no download") == true)
    }

    @Test("no download seen while others download the module (a fleet after a push): the tries go on, every 8 s at most, up to the bound")
    func unseenDuringAStorm() {
        func decide(_ attempt: Int) -> FetchRetry.Decision {
            FetchRetry.decide(attempt: attempt, download: nil, sentAt: Self.sentAt, refusedBefore: false, failures: 0, othersDownloading: true)
        }
        #expect(decide(FetchRetry.unseenAttempts) == .retry(.downloadOr(limit: .seconds(8))))
        #expect(decide(FetchRetry.maxAttempts - 1) == .retry(.downloadOr(limit: .seconds(8))))
        if case .retry = decide(FetchRetry.maxAttempts) { Issue.record("bounded by maxAttempts") }
    }

    @Test("a version this node refused before gets one resend (a lost module cache), not more unless a download runs; sends are bounded")
    func refusedBeforeAndBounded() {
        #expect(Self.decide(attempt: 1, nil, refusedBefore: true) == .retry(.downloadOr(limit: .milliseconds(500))))
        #expect(Self.decide(attempt: 2, nil, refusedBefore: true) == .reject(note: nil))
        #expect(Self.decide(attempt: 2, Self.record(.completed, .seconds(-5)), refusedBefore: true) == .reject(note: nil))
        #expect(
            Self.decide(attempt: 2, Self.record(.started, .zero), refusedBefore: true)
                == .retry(.downloadEnds(limit: FetchRetry.downloadLimit)))
        guard case .reject(let note) = Self.decide(attempt: FetchRetry.maxAttempts, Self.record(.started, .zero)) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(note?.contains("\(FetchRetry.maxAttempts) times") == true)
    }
}

@Suite("ModuleFetches: what each stream's Envoy downloaded")
struct ModuleFetchesTests {
    static let digest = String(repeating: "ab", count: 32)

    @Test("only registered tokens are recorded; closing a stream forgets its records")
    func tokens() throws {
        let fetches = ModuleFetches()
        let token = fetches.open()
        #expect(token.count == 16)
        #expect(fetches.open() != token)
        fetches.record(query: "\(token)-1", content: Self.digest, .started)
        fetches.record(query: "0123456789abcdef-1", content: Self.digest, .completed)
        fetches.record(query: "", content: Self.digest, .completed)
        #expect(fetches.latest(token: token, content: Self.digest)?.event == .started)
        #expect(fetches.counts.records == 1)
        fetches.record(query: "\(token)-2", content: Self.digest, .completed)
        let latest = try #require(fetches.latest(token: token, content: Self.digest))
        #expect(latest.event == .completed)
        #expect(latest.sequence == 2)
        fetches.close(token)
        #expect(fetches.latest(token: token, content: Self.digest) == nil)
        fetches.record(query: "\(token)-3", content: Self.digest, .completed)
        #expect(fetches.counts.records == 0, "a closed stream's token is not recorded")
    }

    @Test("a request that fails after a newer one started or completed does not hide it")
    func staleFailure() throws {
        let fetches = ModuleFetches()
        let token = fetches.open()
        fetches.record(token: token, content: Self.digest, .started)
        fetches.record(token: token, content: Self.digest, .started)
        fetches.record(token: token, content: Self.digest, .failed("gone"))
        #expect(fetches.latest(token: token, content: Self.digest)?.event == .started, "the other one still runs")
        fetches.record(token: token, content: Self.digest, .completed)
        fetches.record(token: token, content: Self.digest, .failed("late"))
        #expect(fetches.latest(token: token, content: Self.digest)?.event == .completed)
        // A new download after that, which fails, is recorded.
        fetches.record(token: token, content: Self.digest, .started)
        #expect(fetches.downloading(Self.digest) == 1)
        let other = fetches.open()
        fetches.record(token: other, content: Self.digest, .started)
        #expect(fetches.downloading(Self.digest) == 2, "counted over every stream")
        fetches.record(token: token, content: Self.digest, .failed("404"))
        #expect(fetches.latest(token: token, content: Self.digest)?.event == .failed("404"))
        fetches.close(other)
        #expect(fetches.downloading(Self.digest) == 0, "a closed stream's downloads no longer count")
    }

    @Test("a stream's records are bounded: the oldest contents go first")
    func bounded() {
        let fetches = ModuleFetches()
        let token = fetches.open()
        for index in 0..<(ModuleFetches.maxContentsPerToken + 10) {
            fetches.record(token: token, content: String(format: "%064x", index), .completed)
        }
        #expect(fetches.counts.records == ModuleFetches.maxContentsPerToken)
        #expect(fetches.latest(token: token, content: String(format: "%064x", 0)) == nil)
        #expect(fetches.latest(token: token, content: String(format: "%064x", ModuleFetches.maxContentsPerToken + 9)) != nil)
    }

    @Test("next() returns a later record, nil on timeout, and nil when the stream closes")
    func waiting() async throws {
        let fetches = ModuleFetches()
        let token = fetches.open()
        fetches.record(token: token, content: Self.digest, .started)
        // Already there: returns at once.
        #expect(await fetches.next(token: token, content: Self.digest, after: 0, timeout: .seconds(10))?.event == .started)
        // Nothing later: times out.
        #expect(await fetches.next(token: token, content: Self.digest, after: 1, timeout: .milliseconds(50)) == nil)
        #expect(fetches.counts.waiters == 0)

        async let later = fetches.next(token: token, content: Self.digest, after: 1, timeout: .seconds(30))
        try await Task.sleep(for: .milliseconds(50))
        fetches.record(token: token, content: Self.digest, .completed)
        #expect(await later?.event == .completed)

        async let closed = fetches.next(token: token, content: Self.digest, after: 2, timeout: .seconds(30))
        try await Task.sleep(for: .milliseconds(50))
        fetches.close(token)
        #expect(await closed == nil)
        #expect(fetches.counts.waiters == 0)
    }
}
