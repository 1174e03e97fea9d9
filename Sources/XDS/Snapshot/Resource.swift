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

    /// Encodes `message` with deterministic map ordering, so the bytes and the version do not
    /// depend on dictionary iteration order.
    public init(name: String, typeURL: String, message: some SwiftProtobuf.Message, versionKey: SymmetricKey? = nil) throws {
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: Data = try message.serializedBytes(options: options)
        var any = Google_Protobuf_Any()
        any.typeURL = typeURL
        any.value = bytes
        self.name = name
        self.body = any
        self.version = versionKey.map { Self.keyedHash(bytes, key: $0) } ?? Self.hash(bytes)
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
