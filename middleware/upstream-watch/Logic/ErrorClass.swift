import ProxyWasm

/// Why an exchange with an upstream failed, from its status and Envoy's response flags.
public enum ErrorClass: String, CaseIterable, Sendable {
    /// The connection could not be made (refused, DNS, no healthy host, overflow).
    case connect
    /// The upstream took too long.
    case timeout
    /// The stream was reset, or ended without a response.
    case reset
    /// The upstream answered 5xx.
    case http5xx = "5xx"

    /// The class of a failed exchange, or nil when it succeeded (4xx are the client's errors,
    /// not the upstream's).
    public static func classify(status: Int?, flags: ResponseFlags) -> ErrorClass? {
        if !flags.intersection(.connectionFailures).isEmpty { return .connect }
        if !flags.intersection(.timeouts).isEmpty { return .timeout }
        if !flags.intersection(.resets).isEmpty { return .reset }
        guard let status, status > 0 else { return .reset }
        return status >= 500 ? .http5xx : nil
    }
}
