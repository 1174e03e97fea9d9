import Hummingbird
import HummingbirdCore
import NIOCore

/// How qpilot's HTTP servers treat their connections.
public enum HTTPServerSettings {
    /// A connection that sends nothing for this long is closed: an idle client (or one that
    /// never finishes its headers) may not keep a descriptor that Envoys and operators need.
    public static let idleTimeout = TimeAmount.seconds(30)

    /// The HTTP/1.1 server, with an idle timeout and bounded headers.
    public static func http1(idleTimeout: TimeAmount) -> HTTPServerBuilder {
        .http1(
            configuration: .init(
                idleTimeout: idleTimeout,
                httpDecoderConfiguration: .init(maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 64 * 1024, maxHeaderFieldCount: 100)))
    }
}
