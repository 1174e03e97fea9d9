import Crypto
import EnvoyAPI
import Foundation
import SwiftProtobuf
import Testing
@testable import XDS

@Suite("Resource versions")
struct ResourceVersionTests {
    static func config(_ secret: String) -> Envoy_Config_Core_V3_TypedExtensionConfig {
        var config = Envoy_Config_Core_V3_TypedExtensionConfig()
        config.name = "qpilot.middleware.key-injector"
        var value = Google_Protobuf_StringValue()
        value.value = "{\"authorization\":\"Bearer \(secret)\"}"
        config.typedConfig = try! Google_Protobuf_Any(message: value)
        return config
    }

    static func version(_ secret: String, key: SymmetricKey?) throws -> String {
        try Resource(
            name: "m", typeURL: ResourceType.extensionConfig.typeURL, message: config(secret), versionKey: key
        ).version
    }

    @Test("keyed: stable for the same bytes and key, different under another key, and not the plain hash a guesser could compute")
    func keyed() throws {
        let key = SymmetricKey(data: Data(repeating: 7, count: 32))
        let other = SymmetricKey(data: Data(repeating: 8, count: 32))
        #expect(try Self.version("sk-live-1", key: key) == Self.version("sk-live-1", key: key))
        #expect(try Self.version("sk-live-1", key: key) != Self.version("sk-live-2", key: key))
        #expect(try Self.version("sk-live-1", key: key) != Self.version("sk-live-1", key: other))
        // Without the key, anyone who knows the other bytes can test a guess of the secret.
        var options = BinaryEncodingOptions()
        options.useDeterministicOrdering = true
        let bytes: Data = try Self.config("sk-live-1").serializedBytes(options: options)
        let guess = SHA256.hash(data: bytes).prefix(8).map { String(format: "%02x", $0) }.joined()
        #expect(try Self.version("sk-live-1", key: nil) == guess)
        #expect(try Self.version("sk-live-1", key: key) != guess)
        #expect(try Self.version("sk-live-1", key: key).count == 16)
    }
}
