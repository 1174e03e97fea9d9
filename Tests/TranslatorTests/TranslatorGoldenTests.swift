import EnvoyAPI
import Foundation
import QpilotAPI
import SwiftProtobuf
import Testing
import Translator

/// Compares the translator's whole output for a fixed input against a reviewed JSON file.
///
/// To regenerate after an intended change: `QPILOT_UPDATE_GOLDEN=1 swift test --filter TranslatorGolden`,
/// then read the diff of Tests/QpilotTests/Golden/translator-default.json before keeping it.
@Suite("Translator golden")
struct TranslatorGoldenTests {
    static let goldenName = "translator-default"

    /// Two middleware: one inline (with small fake bytes), one remote, in the opposite of chain order.
    static let state = DesiredState(
        egress: .init(address: "0.0.0.0", port: 10000, accessLog: "/var/log/qpilot/egress.log"),
        callout: .init(),
        moduleEndpoint: .init(host: "qpilot.internal", port: 18002),
        middleware: [
            Middleware(
                name: "request-stats", sha256: String(repeating: "5", count: 64), delivery: .remote,
                configuration: #"{"prefix":"egress"}"#, failurePolicy: .open, phase: .stats),
            Middleware(
                name: "token-check", sha256: String(repeating: "7", count: 64),
                delivery: .inline(Data([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00])),
                configuration: #"{"header":"authorization"}"#, failurePolicy: .closed, phase: .authn, priority: 10),
        ])

    /// Every message type that appears inside an `Any` in the translator's output.
    static let nestedTypes: [any SwiftProtobuf.Message.Type] = [
        Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager.self,
        Envoy_Extensions_Filters_Http_DynamicForwardProxy_V3_FilterConfig.self,
        Envoy_Extensions_Filters_Http_Router_V3_Router.self,
        Envoy_Extensions_Filters_Http_Rbac_V3_RBAC.self,
        Envoy_Extensions_Rbac_Matchers_UpstreamIpPort_V3_UpstreamIpPortMatcher.self,
        Envoy_Extensions_Filters_Http_Wasm_V3_Wasm.self,
        Envoy_Extensions_AccessLoggers_File_V3_FileAccessLog.self,
        Envoy_Extensions_Clusters_DynamicForwardProxy_V3_ClusterConfig.self,
        Envoy_Extensions_TransportSockets_RawBuffer_V3_RawBuffer.self,
        Envoy_Extensions_TransportSockets_InternalUpstream_V3_InternalUpstreamTransport.self,
        Google_Protobuf_StringValue.self,
    ]

    /// The resources as one JSON document: Envoy's field names, nested `Any`s decoded, keys sorted.
    static func render(_ resources: EnvoyResources) throws -> String {
        for type in nestedTypes { Google_Protobuf_Any.register(messageType: type) }
        var options = JSONEncodingOptions()
        options.preserveProtoFieldNames = true
        func objects(_ messages: [some SwiftProtobuf.Message]) throws -> [Any] {
            try messages.map { try JSONSerialization.jsonObject(with: Data($0.jsonString(options: options).utf8)) }
        }
        let document: [String: Any] = [
            "clusters": try objects(resources.clusters),
            "listeners": try objects(resources.listeners),
            "routes": try objects(resources.routes),
            "extension_configs": try objects(resources.extensionConfigs),
        ]
        let data = try JSONSerialization.data(
            withJSONObject: document, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    static var sourceGoldenURL: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(goldenName).json")
    }

    @Test("the translation of a fixed desired state matches Golden/translator-default.json")
    func golden() throws {
        let rendered = try Self.render(Translator.translate(Self.state, for: .everyOther))
        if ProcessInfo.processInfo.environment["QPILOT_UPDATE_GOLDEN"] == "1" {
            try Data(rendered.utf8).write(to: Self.sourceGoldenURL)
            return
        }
        let url = try #require(
            Bundle.module.url(forResource: Self.goldenName, withExtension: "json", subdirectory: "Golden"),
            "missing golden file; run with QPILOT_UPDATE_GOLDEN=1 to create it")
        let expected = try String(contentsOf: url, encoding: .utf8)
        if rendered != expected {
            let got = rendered.split(separator: "\n", omittingEmptySubsequences: false)
            let want = expected.split(separator: "\n", omittingEmptySubsequences: false)
            let index = zip(got, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(got.count, want.count)
            Issue.record("""
                the translator's output differs from \(Self.goldenName).json at line \(index + 1):
                  golden: \(index < want.count ? String(want[index]) : "<end>")
                  actual: \(index < got.count ? String(got[index]) : "<end>")
                If the change is intended, regenerate with QPILOT_UPDATE_GOLDEN=1 and review the diff.
                """)
        }
    }

    @Test("the rendering decodes every nested Any (so the golden file is readable)")
    func nestedAnysAreDecoded() throws {
        let rendered = try Self.render(Translator.translate(Self.state, for: .everyOther))
        for type in Self.nestedTypes {
            #expect(rendered.contains("type.googleapis.com/\(type.protoMessageName)\""), "\(type.protoMessageName) is not shown")
        }
    }
}
