// Envoy shows custom metrics with the prefix `wasmcustom.` (for example
// `wasmcustom.pii_guard.findings.card`). Define them once, in `onConfigure`, and keep them: each
// definition costs a host call and a stats lookup.

/// The Proxy-Wasm `proxy_metric_type_t` values.
enum MetricType: UInt32 {
    case counter = 0
    case gauge = 1
    case histogram = 2
}

private func defineMetric(_ type: MetricType, _ name: String) -> UInt32? {
    var id: UInt32 = 0
    let status = name.withBytes { proxy_define_metric(type.rawValue, $0, $1, &id) }
    if status != 0 {
        Log.warn("proxy_define_metric failed for \(name): \(HostStatus(rawValue: status).name)")
        return nil
    }
    return id
}

/// A counter: a value that only goes up.
public struct Counter: Sendable {
    /// The host's id for the metric, nil when defining it failed (then updates do nothing).
    public let id: UInt32?

    /// Defines (or finds) the counter `name`.
    public init(_ name: String) {
        id = defineMetric(.counter, name)
    }

    /// Adds `amount`.
    public func increment(by amount: Int64 = 1) {
        guard let id else { return }
        _ = proxy_increment_metric(id, amount)
    }

    /// The current value, as this Envoy sees it.
    public var value: UInt64 {
        guard let id else { return 0 }
        var result: UInt64 = 0
        _ = proxy_get_metric(id, &result)
        return result
    }
}

/// A gauge: a value that goes up and down.
public struct Gauge: Sendable {
    /// The host's id for the metric, nil when defining it failed.
    public let id: UInt32?

    /// Defines (or finds) the gauge `name`.
    public init(_ name: String) {
        id = defineMetric(.gauge, name)
    }

    /// Sets the value.
    public func set(_ value: UInt64) {
        guard let id else { return }
        _ = proxy_record_metric(id, value)
    }

    /// Adds `delta`, which may be negative.
    public func add(_ delta: Int64) {
        guard let id else { return }
        _ = proxy_increment_metric(id, delta)
    }

    /// The current value.
    public var value: UInt64 {
        guard let id else { return 0 }
        var result: UInt64 = 0
        _ = proxy_get_metric(id, &result)
        return result
    }
}

/// A histogram: Envoy keeps the distribution of recorded values (p50, p95, ...).
public struct Histogram: Sendable {
    /// The host's id for the metric, nil when defining it failed.
    public let id: UInt32?

    /// Defines (or finds) the histogram `name`.
    public init(_ name: String) {
        id = defineMetric(.histogram, name)
    }

    /// Records one value, for example a latency in milliseconds.
    public func record(_ value: UInt64) {
        guard let id else { return }
        _ = proxy_record_metric(id, value)
    }
}
