import EnvoyAPI
import Foundation
import QpilotAPI
import QpilotServer
import QpilotTestSupport
import SwiftProtobuf
import Testing
import Translator
import XDS

enum Fixtures {
    /// A realistic snapshot, from the translator.
    static func translatedSnapshot(_ state: DesiredState = Samples.desiredState(), fleet: FleetKey = .everyOther) throws -> Snapshot {
        try SnapshotBuilder.snapshot(Translator.translate(state, for: fleet))
    }
}

/// Snapshots built from the translator's output: the versions Envoy sees.
@Suite("SnapshotBuilder")
struct SnapshotBuilderTests {
    @Test("equal input gives equal versions and byte-identical resources")
    func stableVersions() throws {
        let one = try Fixtures.translatedSnapshot()
        let two = try Fixtures.translatedSnapshot()
        #expect(one.version == two.version)
        for type in ResourceType.allCases {
            #expect(one.version(of: type) == two.version(of: type))
            #expect(one.resources(of: type) == two.resources(of: type))
            for (name, resource) in one.resources(of: type) {
                #expect(resource.body.value == two.resources(of: type)[name]?.body.value)
                #expect(resource.body.typeURL == type.typeURL)
            }
        }
    }

    @Test("changing one middleware changes only the ECDS version")
    func ecdsOnlyChange() throws {
        var state = Samples.desiredState()
        let before = try Fixtures.translatedSnapshot(state)
        state.middleware[0].configuration = #"{"realm":"changed"}"#
        let after = try Fixtures.translatedSnapshot(state)

        for type in [ResourceType.cluster, .endpoint, .listener, .route] {
            #expect(before.version(of: type) == after.version(of: type), "\(type) must not change")
        }
        #expect(before.version(of: .extensionConfig) != after.version(of: .extensionConfig))
        #expect(before.version != after.version)
        let name = Names.filter(state.middleware[0].name)
        let other = Names.filter(state.middleware[1].name)
        #expect(before.resources(of: .extensionConfig)[name]?.version != after.resources(of: .extensionConfig)[name]?.version)
        #expect(before.resources(of: .extensionConfig)[other] == after.resources(of: .extensionConfig)[other])
    }

    @Test("a translated snapshot is consistent")
    func translatedIsConsistent() throws {
        #expect(try Fixtures.translatedSnapshot().consistencyProblems() == [])
    }

    @Test("dropping the translator's callout listener is caught")
    func translatedCalloutListenerMissing() throws {
        let full = try Fixtures.translatedSnapshot()
        var byType = full.resources.mapValues { Array($0.values) }
        byType[.listener] = byType[.listener]?.filter { $0.name != Names.calloutListener }
        let problems = try Snapshot(byType).consistencyProblems()
        #expect(problems.contains { $0.contains("internal listener '\(Names.calloutListener)'") })
    }
}

extension SnapshotBuilderTests {
    @Test("a remote middleware's resource renders per stream: the URL gets the query, the version stays; inline has none")
    func remoteRendering() throws {
        var state = Samples.desiredState()
        state.middleware[0].delivery = .remote
        state.middleware[1].delivery = .inline(Data("\0asm".utf8))
        let snapshot = try Fixtures.translatedSnapshot(state)
        let remote = try #require(snapshot.resources(of: .extensionConfig)[Names.filter(state.middleware[0].name)])
        let fetched = try #require(remote.fetched)
        #expect(fetched.key == state.middleware[0].sha256)
        #expect(snapshot.resources(of: .extensionConfig)[Names.filter(state.middleware[1].name)]?.fetched == nil)

        func wasm(_ any: Google_Protobuf_Any) throws -> Envoy_Extensions_Filters_Http_Wasm_V3_Wasm {
            let config = try Envoy_Config_Core_V3_TypedExtensionConfig(serializedBytes: any.value)
            return try Envoy_Extensions_Filters_Http_Wasm_V3_Wasm(unpackingAny: config.typedConfig)
        }
        let plain = try wasm(remote.body).config.vmConfig
        #expect(plain.nackOnCodeCacheMiss, "without it Envoy ACKs a module it has not fetched")
        #expect(plain.code.remote.httpUri.uri.hasSuffix("/modules/sha256/\(fetched.key)"))
        let rendered = try wasm(try fetched.render("s=0123456789abcdef-2")).config.vmConfig
        #expect(rendered.code.remote.httpUri.uri == plain.code.remote.httpUri.uri + "?s=0123456789abcdef-2")
        #expect(rendered.code.remote.sha256 == plain.code.remote.sha256)
        #expect(rendered.nackOnCodeCacheMiss)
        // The same version: a stream's rendering is not another config version.
        let again = try Fixtures.translatedSnapshot(state)
        #expect(again.resources(of: .extensionConfig)[remote.name]?.version == remote.version)
    }
}
