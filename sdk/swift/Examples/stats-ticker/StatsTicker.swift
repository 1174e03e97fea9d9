// stats-ticker: counts requests by method in metrics, keeps a VM-wide total in shared data,
// and logs a summary from a timer every 10 seconds.
import ProxyWasm

@main
enum StatsTicker {
    static func main() {
        setRootContext { StatsTickerRoot() }
    }
}

final class StatsTickerRoot: RootContext {
    var requests: Counter? = nil
    var writes: Counter? = nil
    var latency: Histogram? = nil

    override func onConfigure(configuration: [UInt8]) -> Bool {
        requests = Counter("stats_ticker.requests")
        writes = Counter("stats_ticker.writes")
        latency = Histogram("stats_ticker.duration_ms")
        setTickPeriod(milliseconds: 10_000)
        return true
    }

    override func onTick() {
        let total = SharedData.get("stats_ticker.total").map { decimal($0.value) } ?? 0
        let heap = HeapStatistics.current
        Log.info("stats-ticker: \(total) requests so far; heap \(heap.bytesInUse) bytes in use")
    }

    override func makeHTTPContext() -> HTTPContext? {
        StatsTickerExchange(root: self)
    }

    /// Adds one to the shared total, retrying when another worker's VM got there first.
    func countInSharedData() {
        for _ in 0..<5 {
            let current = SharedData.get("stats_ticker.total")
            let next = (current.map { decimal($0.value) } ?? 0) + 1
            if SharedData.set("stats_ticker.total", Array("\(next)".utf8), cas: current?.cas ?? 0) != .casMismatch {
                return
            }
        }
    }

    private func decimal(_ bytes: [UInt8]) -> Int {
        bytes.reduce(0) { $0 * 10 + Int($1 &- UInt8(ascii: "0")) }
    }
}

final class StatsTickerExchange: HTTPContext {
    let root: StatsTickerRoot

    init(root: StatsTickerRoot) {
        self.root = root
    }

    override func onRequestHeaders(headerCount: Int, endOfStream: Bool) -> Action {
        root.requests?.increment()
        let method = requestHeaders[":method"] ?? ""
        if method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE" {
            root.writes?.increment()
        }
        root.countInSharedData()
        return .continue
    }

    override func onDone() {
        if let nanoseconds = Properties.requestDurationNanoseconds, nanoseconds >= 0 {
            root.latency?.record(UInt64(nanoseconds / 1_000_000))
        }
    }
}
