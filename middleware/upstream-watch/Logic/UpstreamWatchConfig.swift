import ProxyWasm

/// upstream-watch's configuration.
///
/// ```json
/// {
///   "collectorURL": "http://collector.internal:9000/reports",
///   "reportIntervalMs": 10000,
///   "windowSeconds": 60,
///   "minRequests": 10,
///   "errorRateThreshold": 0.5,
///   "p95LatencyThresholdMs": 1000,
///   "maxHosts": 500,
///   "calloutCluster": "qpilot_callout",
///   "metricPrefix": "upstream_watch"
/// }
/// ```
/// Only `collectorURL` is required.
public struct UpstreamWatchConfig: Equatable, Sendable {
    /// Where reports go (a POST of JSON), through the callout cluster.
    public var collectorURL: String
    /// How often pending changes are reported.
    public var reportIntervalMilliseconds: UInt32
    /// The rolling window's length.
    public var windowMilliseconds: UInt64
    /// Degradation thresholds.
    public var thresholds: HealthThresholds
    /// The most hosts tracked per VM.
    public var maximumHosts: Int
    /// The cluster callouts go through.
    public var calloutCluster: String
    /// The prefix of every metric.
    public var metricPrefix: String

    /// Reads a configuration from JSON.
    public static func parse(_ bytes: [UInt8]) -> Result<UpstreamWatchConfig, ConfigError> {
        let document: JSONValue
        do {
            document = try JSON.parse(bytes)
        } catch {
            return .failure(ConfigError(error.message))
        }
        do {
            return .success(try UpstreamWatchConfig(json: document))
        } catch {
            return .failure(error)
        }
    }

    /// Reads a configuration from a parsed document.
    public init(json: JSONValue) throws(ConfigError) {
        guard let members = json.members else {
            throw ConfigError("the configuration must be a JSON object, found \(json.kindName)")
        }
        let known = ["collectorURL", "reportIntervalMs", "windowSeconds", "minRequests", "errorRateThreshold", "p95LatencyThresholdMs", "maxHosts", "calloutCluster", "metricPrefix"]
        for member in members where !known.contains(member.key) {
            throw ConfigError("unknown field '\(member.key)'; known fields: \(known.joined(separator: ", "))")
        }
        guard let url = json["collectorURL"]?.stringValue else {
            throw ConfigError("'collectorURL' is required, for example \"http://collector.internal:9000/reports\"")
        }
        if case .failure(let error) = CalloutURL.parse(url) {
            throw ConfigError("'collectorURL': \(error.message)")
        }
        collectorURL = url
        reportIntervalMilliseconds = UInt32(try UpstreamWatchConfig.positive(json, "reportIntervalMs", default: 10_000, maximum: 3_600_000))
        windowMilliseconds = UInt64(try UpstreamWatchConfig.positive(json, "windowSeconds", default: 60, maximum: 86_400)) * 1000
        var thresholds = HealthThresholds()
        thresholds.minimumRequests = try UpstreamWatchConfig.positive(json, "minRequests", default: 10, maximum: 1_000_000)
        if let rate = json["errorRateThreshold"] {
            guard let value = rate.doubleValue, value > 0, value <= 1 else {
                throw ConfigError("'errorRateThreshold' must be a number in (0, 1], such as 0.5")
            }
            thresholds.errorRate = value
        }
        thresholds.p95Milliseconds = UInt64(try UpstreamWatchConfig.positive(json, "p95LatencyThresholdMs", default: 1000, maximum: 3_600_000))
        self.thresholds = thresholds
        maximumHosts = try UpstreamWatchConfig.positive(json, "maxHosts", default: 500, maximum: 100_000)
        calloutCluster = json["calloutCluster"]?.stringValue ?? "qpilot_callout"
        metricPrefix = json["metricPrefix"]?.stringValue ?? "upstream_watch"
        if calloutCluster.isEmpty || metricPrefix.isEmpty {
            throw ConfigError("'calloutCluster' and 'metricPrefix' must not be empty")
        }
    }

    private static func positive(_ json: JSONValue, _ key: String, default value: Int, maximum: Int) throws(ConfigError) -> Int {
        guard let field = json[key] else { return value }
        guard let number = field.intValue, number > 0, number <= maximum else {
            throw ConfigError("'\(key)' must be a whole number from 1 to \(maximum)")
        }
        return number
    }
}

/// A configuration mistake, with a message that names the field.
public struct ConfigError: Error, Equatable, Sendable {
    /// What is wrong and how to fix it.
    public let message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }
}
