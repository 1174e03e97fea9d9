/// What a stream learned from one request, for status and metrics.
public enum ProtocolEvent: Sendable, Equatable {
    /// Envoy applied the response of this type and version.
    case ack(ResourceType, version: String)
    /// Envoy rejected the response of this type and version, with its message.
    case nack(ResourceType, version: String, message: String)
    /// A reply to a response that is no longer the latest; it says nothing about current state.
    case staleNonce(ResourceType, nonce: String)
    /// A type URL qpilot does not serve.
    case unknownType(String)
}
