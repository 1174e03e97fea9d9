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
