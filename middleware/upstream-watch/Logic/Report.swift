import ProxyWasm

/// The JSON body of one report to the collector.
public enum Report {
    /// `{"source": …, "time": …, "changes": [...], "degraded": [...]}`; each change has host,
    /// state ("degraded" or "recovered"), reason, requests, errors, errorRate, p95LatencyMs and
    /// time (milliseconds since the epoch).
    public static func body(source: String, time: UInt64, changes: [HealthChange], degraded: [String]) -> String {
        JSONValue.object([
            JSONMember("source", .string(source)),
            JSONMember("time", .integer(Int64(time))),
            JSONMember("changes", .array(changes.map(json))),
            JSONMember("degraded", .array(degraded.map { .string($0) })),
        ]).serialized
    }

    static func json(_ change: HealthChange) -> JSONValue {
        .object([
            JSONMember("host", .string(change.host)),
            JSONMember("state", .string(change.degraded ? "degraded" : "recovered")),
            JSONMember("reason", .string(change.reason)),
            JSONMember("requests", .integer(Int64(change.summary.requests))),
            JSONMember("errors", .integer(Int64(change.summary.errors))),
            JSONMember("errorRate", .number(change.summary.errorRate)),
            JSONMember("p95LatencyMs", .integer(Int64(change.summary.p95Milliseconds))),
            JSONMember("time", .integer(Int64(change.time))),
        ])
    }

    /// `host` as a stat name segment: lower-case letters, digits and `_`
    /// ("api.example.com:443" → "api_example_com_443").
    public static func metricName(_ host: String) -> String {
        String(decoding: host.utf8.map { byte in
            let lower = byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
            let isAlphanumeric = (lower &- UInt8(ascii: "a") < 26) || (lower &- UInt8(ascii: "0") < 10)
            return isAlphanumeric ? lower : UInt8(ascii: "_")
        }, as: UTF8.self)
    }
}
