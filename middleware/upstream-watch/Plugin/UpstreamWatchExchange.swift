import ProxyWasm

/// One exchange: remembers its host, and hands the outcome to the root context when done.
final class UpstreamWatchExchange: HTTPContext {
    private let root: UpstreamWatchRoot
    private var host = ""

    init(root: UpstreamWatchRoot) {
        self.root = root
    }

    override func onRequestHeaders(headerCount: Int, endOfStream: Bool) -> Action {
        host = requestHeaders[":authority"] ?? ""
        return .continue
    }

    override func onDone() {
        let host = self.host.isEmpty ? (Properties.requestAuthority ?? "unknown") : self.host
        let nanoseconds = Properties.requestDurationNanoseconds ?? 0
        root.record(
            host: host, status: Properties.responseCode, flags: Properties.responseFlags ?? [],
            latencyMilliseconds: UInt64(max(0, nanoseconds) / 1_000_000))
    }
}
