import Foundation
import QpilotAPI
import Translator

/// The part of qpilot.yaml that a reload applies: what Envoy's config is made of, and in file
/// mode the middleware chain itself.
public struct DesiredConfig: Sendable, Equatable {
    public struct Egress: Sendable, Equatable {
        public var address = "127.0.0.1"
        public var port = 10000
        /// An access-log path (resolved), or nil for none.
        public var accessLog: String?
        /// Internal destinations that requests may reach all the same (see Translator.internalDestinations).
        public var allowInternal: [InternalDestination] = []
    }

    public struct Callout: Sendable, Equatable {
        public var accessLog: String? = "/dev/stdout"
    }

    public var egress = Egress()
    public var callout = Callout()
    /// `tls.intercept`, `tls.originate` and `tls.upstreamCA` (read and checked when the file is
    /// loaded).
    public var tls = DesiredState.TLS()
    /// qpilot.yaml has a `tls.intercept` key, so the file is the intercepted hosts' source of
    /// truth; otherwise the store's list (`qctl tls intercept add`) is.
    public var interceptFromFile = false
    /// How Envoy gets module bytes, for every middleware that does not say otherwise; nil: by
    /// size, `inline` up to `modules.inlineMaxBytes` and `remote` above.
    public var delivery: Delivery?
    /// The file's `middleware:` section, or nil when the file has none (the store is then the
    /// source of truth).
    public var middleware: [ChainEntry]?

    public init() {}

    public var mode: ChainMode { middleware == nil ? .store : .file }
}
