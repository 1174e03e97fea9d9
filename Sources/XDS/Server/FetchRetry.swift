/// What a stream does when Envoy NACKs a resource whose module it fetches by URL (`remote`
/// delivery with `nack_on_code_cache_miss`).
///
/// Envoy 1.40 NACKs the first config that names a module it does not hold, with the same message
/// as a module whose `proxy_on_configure` fails, and downloads the module in the background. The
/// module endpoint reports this stream's downloads (`ModuleFetches`), so:
/// - the node downloaded the whole module a while (`trusted`) before the refused config was sent:
///   Envoy built it from its cache, so the NACK is real. The module endpoint sees a download end
///   when the last bytes are handed to the kernel, which can be well before Envoy has read them
///   (a slow link, a busy Envoy), so a NACK soon after a download is resent, once a second;
/// - a download is running, or ended just now: resend once it has ended (Envoy keys its cache by
///   sha256, and the resend carries a new attempt number, so Envoy builds it instead of skipping
///   it as the config it refused);
/// - a download failed: Envoy caches the failure for 10 s, so resend after that, a few times;
/// - nothing seen: Envoy may not have started yet, or holds the module from before qpilot last
///   saw it; resend after a short backoff, and after a few such tries the NACK is real, with a
///   note that no download was seen. While other nodes are downloading the same module (a whole
///   fleet after a push), a node's own download may wait for a connection, so the tries go on,
///   every 8 s, up to `maxAttempts`.
/// The same version refused before (remembered across reconnects and restarts) gets one resend at
/// most, unless a download is running.
public enum FetchRetry {
    /// What to do with one NACK.
    public enum Decision: Sendable, Equatable {
        /// Report the NACK; `note` is added to Envoy's message.
        case reject(note: String?)
        /// Report the node as fetching, wait, and send the resource again.
        case retry(Wait)
    }

    /// How long to wait before resending.
    public enum Wait: Sendable, Equatable {
        /// A fixed time.
        case delay(Duration)
        /// Until the node's running download ends (at most `limit`), then `settle`.
        case downloadEnds(limit: Duration)
        /// Until the node starts or ends a download, at most `limit`; a start then waits for its end.
        case downloadOr(limit: Duration)
    }

    /// How long after the end of a download Envoy is trusted to hold the module: it checks the
    /// sha256 and fills its cache when the response arrives, on another connection than ADS.
    public static let settle = Duration.milliseconds(250)
    /// How long after the end of its download a node is sure to hold the module.
    public static let trusted = Duration.seconds(3)
    /// Envoy caches a failed download for 10 s (CODE_CACHE_SECONDS_NEGATIVE_CACHING).
    public static let failureCache = Duration.seconds(11)
    /// Resends with no download seen before the NACK counts as real.
    public static let unseenAttempts = 6
    /// Resends after failed downloads before the NACK counts as real.
    public static let failedAttempts = 3
    /// The most sends of one version on one stream.
    public static let maxAttempts = 12
    /// The longest wait for a running download.
    public static let downloadLimit = Duration.seconds(300)

    /// - Parameters:
    ///   - attempt: how many times this version was sent on this stream, the refused one included.
    ///   - download: the node's latest download of the module on this stream, if any.
    ///   - sentAt: when the refused config was sent.
    ///   - refusedBefore: the node refused this same version before (a remembered rejection): one
    ///     resend is still tried, for an Envoy that lost its module cache, but no more.
    ///   - failures: downloads of this version that failed so far on this stream.
    ///   - othersDownloading: other streams' Envoys are downloading this module right now.
    public static func decide(
        attempt: Int, download: ModuleFetches.Record?, sentAt: ContinuousClock.Instant, refusedBefore: Bool, failures: Int,
        othersDownloading: Bool = false
    ) -> Decision {
        if refusedBefore, attempt >= 2, download?.event != .started { return .reject(note: nil) }
        guard attempt < maxAttempts else {
            return .reject(note: "qpilot sent it \(attempt) times while the node was fetching the module")
        }
        switch download?.event {
        case .completed:
            guard let download, download.at + settle <= sentAt else { return .retry(.delay(settle)) }
            if download.at + trusted <= sentAt { return .reject(note: nil) }
            return .retry(.delay(.seconds(1)))
        case .started:
            return .retry(.downloadEnds(limit: downloadLimit))
        case .failed(let reason):
            guard failures < failedAttempts else {
                return .reject(note: "the node could not download the module from qpilot's module endpoint: \(reason)")
            }
            return .retry(.delay(failureCache))
        case nil:
            guard attempt < unseenAttempts || othersDownloading else {
                return .reject(
                    note:
                        "qpilot saw no download of the module by this node since it connected: the node holds it from before (the NACK is about the module or its configuration), or cannot reach qpilot's module endpoint")
            }
            return .retry(.downloadOr(limit: min(.milliseconds(500) * (1 << min(attempt - 1, 10)), .seconds(8))))
        }
    }
}
