/// What a stream learned from one request, for status and metrics.
public enum ProtocolEvent: Sendable, Equatable {
    /// Envoy applied the response of this type and version, which carried these resources
    /// (name → resource version).
    case ack(ResourceType, version: String, resources: [String: String])
    /// Envoy rejected the response of this type and version, which carried these resources, with
    /// its message.
    case nack(ResourceType, version: String, message: String, resources: [String: String])
    /// A reconnecting client says it holds these resources (name → version): Delta's
    /// `initial_resource_versions`, or in SotW the whole type at the version it reported. What a
    /// client holds this way was never re-sent, so it can confirm but never clear a refusal.
    case holds(ResourceType, [String: String])
    /// Envoy refused one resource because it has not fetched the module it names yet (remote
    /// delivery); qpilot sends it again once the module is downloaded. `attempt` counts the sends.
    case fetching(ResourceType, name: String, version: String, attempt: Int)
    /// A reply to a response that is no longer the latest; it says nothing about current state.
    case staleNonce(ResourceType, nonce: String)
    /// A type URL qpilot does not serve.
    case unknownType(String)
}

extension ProtocolEvent {
    /// The longest NACK message kept, in characters: Envoy's own messages are far shorter, and
    /// status, logs and `push --wait` show it to operators.
    public static let maxMessageLength = 1024

    /// A NACK's message as it may be shown: control characters (terminal escapes among them)
    /// become spaces, and it is cut at `maxMessageLength`.
    public static func shown(_ message: String) -> String {
        let printable = String(
            String.UnicodeScalarView(
                message.unicodeScalars.map { scalar in
                    scalar == "\n" || scalar == "\t" || !(scalar.properties.generalCategory == .control) ? scalar : " "
                }))
        return printable.count > maxMessageLength ? printable.prefix(maxMessageLength) + "…" : printable
    }

    /// The longest type URL repeated in a log or an event.
    static let maxTypeURLLength = 256

    /// A type URL as it may be logged: a client may send anything.
    static func shownTypeURL(_ url: String) -> String {
        url.count > maxTypeURLLength ? url.prefix(maxTypeURLLength) + "… (\(url.utf8.count) bytes)" : url
    }
}
