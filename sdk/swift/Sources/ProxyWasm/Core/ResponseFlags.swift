/// Envoy's response flags (`response.flags`): why a response was not an ordinary upstream
/// answer. Values from Envoy's `StreamInfo::CoreResponseFlag` legacy bit set.
public struct ResponseFlags: OptionSet, Sendable {
    /// The raw bit set.
    public let rawValue: UInt64

    /// Wraps a raw bit set.
    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// No healthy upstream host (UH).
    public static let noHealthyUpstream = ResponseFlags(rawValue: 0x2)
    /// The upstream request timed out (UT).
    public static let upstreamRequestTimeout = ResponseFlags(rawValue: 0x4)
    /// Envoy reset the stream locally (LR).
    public static let localReset = ResponseFlags(rawValue: 0x8)
    /// The upstream reset the stream (UR).
    public static let upstreamRemoteReset = ResponseFlags(rawValue: 0x10)
    /// Connecting to the upstream failed (UF).
    public static let upstreamConnectionFailure = ResponseFlags(rawValue: 0x20)
    /// The upstream connection ended early (UC).
    public static let upstreamConnectionTermination = ResponseFlags(rawValue: 0x40)
    /// The upstream was overflowing, circuit breaker (UO).
    public static let upstreamOverflow = ResponseFlags(rawValue: 0x80)
    /// No route matched (NR).
    public static let noRouteFound = ResponseFlags(rawValue: 0x100)
    /// The downstream connection ended early (DC).
    public static let downstreamConnectionTermination = ResponseFlags(rawValue: 0x4000)
    /// Retries were exhausted (URX).
    public static let upstreamRetryLimitExceeded = ResponseFlags(rawValue: 0x8000)
    /// The stream was idle too long (SI).
    public static let streamIdleTimeout = ResponseFlags(rawValue: 0x10000)
    /// The upstream broke the protocol (UPE).
    public static let upstreamProtocolError = ResponseFlags(rawValue: 0x800000)
    /// DNS resolution failed (DF).
    public static let dnsResolutionFailed = ResponseFlags(rawValue: 0x4000000)
    /// The downstream reset the stream (DR).
    public static let downstreamRemoteReset = ResponseFlags(rawValue: 0x10000000)

    /// Flags that mean the upstream was never reached or the exchange broke off.
    public static let resets: ResponseFlags = [.localReset, .upstreamRemoteReset, .upstreamConnectionTermination, .downstreamRemoteReset]
    /// Flags that mean a timeout.
    public static let timeouts: ResponseFlags = [.upstreamRequestTimeout, .streamIdleTimeout]
    /// Flags that mean the connection could not be made.
    public static let connectionFailures: ResponseFlags = [.upstreamConnectionFailure, .noHealthyUpstream, .dnsResolutionFailed, .upstreamOverflow]
}
