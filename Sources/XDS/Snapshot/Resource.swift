import Crypto
import Foundation
import SwiftProtobuf

/// One named xDS resource, encoded once when its snapshot is built.
///
/// Every stream of a fleet shares these bytes, so a change costs one encoding per resource, not
/// one per node. The version is a keyed hash (HMAC-SHA256) of the bytes: equal bytes give equal
/// versions, after a restart too, which is what Delta xDS's `initial_resource_versions` and the
/// remembered rejections rely on. The key is the installation's own (`versionKey`): a resource
/// can carry a resolved secret, and versions are shown to read-only API tokens and in Envoy's
/// config dump, so a plain hash would let anyone who knows the rest of the bytes test guesses of
/// the secret offline.
public struct Resource: Sendable, Equatable {
    /// The resource name Envoy subscribes to (`Listener.name`, `Cluster.name`, …).
    public let name: String
    /// The encoded resource, ready to be placed in a response.
    public let body: Google_Protobuf_Any
    /// A hash of `body.value`, stable across processes.
    public let version: String
    /// Set when the resource names content that Envoy fetches by URL (a module delivered
    /// `remote`): each stream sends its own rendering, see `Fetched`.
    public let fetched: Fetched?

    /// What a stream needs to send a resource whose content Envoy downloads: the content's key
    /// (a module's sha256) and a rendering of the resource with a query added to its URL.
    ///
    /// A stream adds its own token and an attempt number, so that the module endpoint can tell
    /// which stream's Envoy downloaded what, and so that a retry after a NACK is never byte for
    /// byte the config Envoy refused (Envoy 1.40 skips an identical ECDS config, even a refused
    /// one, and ACKs it without building it). The version stays the one of `body`.
    public struct Fetched: Sendable {
        public let key: String
        public let render: @Sendable (_ query: String) throws -> Google_Protobuf_Any

        public init(key: String, render: @escaping @Sendable (_ query: String) throws -> Google_Protobuf_Any) {
            self.key = key
            self.render = render
        }
    }

    public static func == (lhs: Resource, rhs: Resource) -> Bool {
        lhs.name == rhs.name && lhs.version == rhs.version && lhs.body == rhs.body && lhs.fetched?.key == rhs.fetched?.key
    }

    /// Encodes `message` with deterministic map ordering, so the bytes and the version do not
    /// depend on dictionary iteration order.
    public init(
        name: String, typeURL: String, message: some SwiftProtobuf.Message, versionKey: SymmetricKey? = nil,
        fetched: Fetched? = nil
    ) throws {
        let any = try Self.encode(message, typeURL: typeURL)
        self.name = name
        self.body = any
        self.version = versionKey.map { Self.keyedHash(any.value, key: $0) } ?? Self.hash(any.value)
        self.fetched = fetched
    }

    /// `message` in an `Any`, encoded with deterministic map ordering.
    public static func encode(_ message: some SwiftProtobuf.Message, typeURL: String) throws -> Google_Protobuf_Any {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        var any = Google_Protobuf_Any()
        any.typeURL = typeURL
        any.value = try message.serializedBytes(options: options)
        return any
    }

    static func keyedHash(_ bytes: Data, key: SymmetricKey) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: bytes, using: key)
        return code.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    static func hash(_ bytes: Data) -> String {
        let digest = SHA256.hash(data: bytes)
        return digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}
