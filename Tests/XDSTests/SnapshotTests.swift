import EnvoyAPI
import Foundation
import QpilotTestSupport
import SwiftProtobuf
import Testing
import XDS

@Suite("Snapshot")
struct SnapshotTests {
    @Test("two resources of one type with the same name are refused", arguments: ResourceType.allCases)
    func duplicateNames(type: ResourceType) throws {
        let one = Fixtures.resource(type, "twin", Fixtures.cluster("one"))
        let two = Fixtures.resource(type, "twin", Fixtures.cluster("two"))
        #expect(throws: SnapshotError.duplicateName(type: type, name: "twin")) {
            try Snapshot([type: [one, two]])
        }
        #expect(SnapshotError.duplicateName(type: type, name: "twin").description.contains("'twin'"))
    }

    @Test("the same name in two types is fine")
    func sameNameAcrossTypes() throws {
        let snapshot = try Snapshot([
            .cluster: [Fixtures.resource(.cluster, "x", Fixtures.cluster("x"))],
            .route: [Fixtures.resource(.route, "x", Fixtures.route("x", cluster: "x"))],
        ])
        #expect(snapshot.resources(of: .cluster).keys.sorted() == ["x"])
        #expect(snapshot.resources(of: .route).keys.sorted() == ["x"])
    }

    @Test("a resource's version is a hash of its bytes, independent of map insertion order")
    func deterministicMaps() throws {
        let keys = (0..<32).map { "key\($0)" }
        func metadata(_ order: [String]) -> Google_Protobuf_Struct {
            var metadata = Google_Protobuf_Struct()
            for key in order {
                var nested = Google_Protobuf_Struct()
                for inner in order { nested.fields[inner] = Google_Protobuf_Value(stringValue: key + inner) }
                metadata.fields[key] = Google_Protobuf_Value(structValue: nested)
            }
            return metadata
        }
        let forward = try Resource(name: "c", typeURL: ResourceType.cluster.typeURL, message: metadata(keys))
        let backward = try Resource(name: "c", typeURL: ResourceType.cluster.typeURL, message: metadata(keys.reversed()))
        #expect(forward.body.value == backward.body.value)
        #expect(forward.version == backward.version)
        #expect(forward.version.count == 16)
        #expect(forward.version.allSatisfy { $0.isHexDigit })

        let other = try Resource(name: "c", typeURL: ResourceType.cluster.typeURL, message: metadata(Array(keys.dropLast())))
        #expect(other.version != forward.version)
    }

    @Test("an empty type still has a stable version")
    func emptyTypeVersion() throws {
        let one = try Snapshot([:])
        let two = try Snapshot([:])
        #expect(one.version(of: .endpoint) == two.version(of: .endpoint))
        #expect(!one.version(of: .endpoint).isEmpty)
        #expect(one.resources(of: .endpoint).isEmpty)
    }

    // MARK: Consistency

    @Test("the fixture snapshot is consistent")
    func translatedIsConsistent() throws {
        #expect(try Fixtures.snapshot().consistencyProblems() == [])
    }

    /// A consistent snapshot with some resources left out, and what the check must say about it.
    struct Gap: Sendable, CustomTestStringConvertible {
        let label: String
        let drop: [ResourceType: Set<String>]
        let mentions: [String]
        var testDescription: String { label }
    }

    @Test(
        "consistencyProblems() names what is missing",
        arguments: [
            Gap(label: "route", drop: [.route: ["main_route"]], mentions: ["listener 'main'", "route 'main_route'"]),
            Gap(label: "ECDS filter config", drop: [.extensionConfig: ["ecds_b"]], mentions: ["listener 'main'", "'ecds_b'"]),
            Gap(label: "cluster of a route", drop: [.cluster: ["alpha"]], mentions: ["route 'main_route'", "cluster 'alpha'"]),
            Gap(label: "endpoints of an EDS cluster", drop: [.endpoint: ["svc"]], mentions: ["cluster 'svc'", "endpoints 'svc'"]),
        ])
    func missing(gap: Gap) throws {
        let full = try Fixtures.snapshot()
        var byType: [ResourceType: [Resource]] = [:]
        for type in ResourceType.allCases {
            byType[type] = full.resources(of: type).values.filter { !(gap.drop[type] ?? []).contains($0.name) }
        }
        let problems = try Snapshot(byType).consistencyProblems()
        let problem = try #require(problems.only, "exactly one problem, got \(problems)")
        for mention in gap.mentions {
            #expect(problem.contains(mention))
        }
        #expect(problem.contains("missing"))
    }

    @Test("consistencyProblems() names a missing internal listener")
    func missingInternalListener() throws {
        let snapshot = try Snapshot([
            .cluster: [Fixtures.resource(.cluster, "callout", Fixtures.internalCluster("callout", listener: "callout_listener"))],
        ])
        let problem = try #require(snapshot.consistencyProblems().only)
        #expect(problem.contains("cluster 'callout'"))
        #expect(problem.contains("internal listener 'callout_listener'"))

        let fixed = try Snapshot([
            .cluster: [Fixtures.resource(.cluster, "callout", Fixtures.internalCluster("callout", listener: "callout_listener"))],
            .listener: [Fixtures.resource(.listener, "callout_listener", Fixtures.listener("callout_listener", route: "r"))],
            .route: [Fixtures.resource(.route, "r", Fixtures.route("r", cluster: "callout"))],
        ])
        #expect(fixed.consistencyProblems() == [])
    }

    @Test("a resource that does not decode is reported", arguments: [ResourceType.listener, .route, .cluster])
    func undecodable(type: ResourceType) throws {
        // Field 1 (every one of these types' `name`) holding bytes that are not UTF-8.
        let garbage = Google_Protobuf_BytesValue(Data([0xff, 0xfe]))
        let snapshot = try Snapshot([type: [Fixtures.resource(type, "broken", garbage)]])
        let problem = try #require(snapshot.consistencyProblems().only)
        #expect(problem.contains("'broken' does not decode"))
    }
}

@Suite("Snapshot cache")
struct SnapshotCacheTests {
    @Test("publish refuses an inconsistent snapshot and keeps the previous one")
    func refusesInconsistent() throws {
        let cache = SnapshotCache()
        let good = try Fixtures.snapshot()
        try cache.publish(byFleet: [:], fallback: good)

        let broken = try Snapshot([.listener: [Fixtures.resource(.listener, "l", Fixtures.listener("l", route: "nowhere"))]])
        let error = #expect(throws: SnapshotError.self) {
            try cache.publish(byFleet: ["edge": broken], fallback: good)
        }
        guard case .inconsistent(let problems)? = error else {
            Issue.record("expected .inconsistent, got \(String(describing: error))")
            return
        }
        #expect(problems == ["fleet edge: listener 'l' uses route 'nowhere', which is missing"])
        #expect(cache.snapshot(for: "edge")?.version == good.version)
        #expect(cache.snapshot(for: "other")?.version == good.version)

        #expect(throws: SnapshotError.self) { try cache.publish(byFleet: [:], fallback: broken) }
        #expect(cache.snapshot(for: "other")?.version == good.version)
    }

    @Test("an empty cache has no snapshot")
    func empty() {
        #expect(SnapshotCache().snapshot(for: "any") == nil)
    }

    @Test("a fleet with its own snapshot gets it; every other fleet gets the fallback")
    func perFleet() throws {
        let cache = SnapshotCache()
        let fallback = try Fixtures.snapshot()
        let edge = try Fixtures.snapshot(ecdsPayload: "edge")
        try cache.publish(byFleet: ["edge": edge], fallback: fallback)
        #expect(cache.snapshot(for: "edge")?.version == edge.version)
        #expect(cache.snapshot(for: "core")?.version == fallback.version)
        #expect(cache.snapshot(for: "")?.version == fallback.version)

        // A later publish without the fleet sends it back to the fallback.
        try cache.publish(byFleet: [:], fallback: fallback)
        #expect(cache.snapshot(for: "edge")?.version == fallback.version)
    }

    @Test("watch() yields the current snapshot first, then each change of that fleet only")
    func watch() async throws {
        let cache = SnapshotCache()
        let s1 = try Fixtures.snapshot()
        let s2 = try Fixtures.snapshot(ecdsPayload: "v2")
        let s3 = try Fixtures.snapshot(ecdsPayload: "v3")
        let other = try Fixtures.snapshot(extraCluster: "other")
        try cache.publish(byFleet: [:], fallback: s1)

        var iterator = cache.watch(fleet: "edge").makeAsyncIterator()
        #expect(cache.watcherCount == 1)
        #expect(await iterator.next()?.version == s1.version)

        // Neither of these changes what "edge" gets.
        try cache.publish(byFleet: [:], fallback: s1)
        try cache.publish(byFleet: ["core": other], fallback: s1)
        // This does.
        try cache.publish(byFleet: ["core": other, "edge": s2], fallback: s1)
        #expect(await iterator.next()?.version == s2.version)
        try cache.publish(byFleet: ["edge": s3], fallback: s1)
        #expect(await iterator.next()?.version == s3.version)
    }

    @Test("no-op publishes yield nothing to a watcher")
    func noSpuriousYields() async throws {
        let cache = SnapshotCache()
        let s1 = try Fixtures.snapshot()
        let s2 = try Fixtures.snapshot(ecdsPayload: "v2")
        try cache.publish(byFleet: [:], fallback: s1)
        let stream = cache.watch(fleet: "edge")
        let consumer = Task {
            var seen: [String] = []
            for await snapshot in stream {
                seen.append(snapshot.version)
                if snapshot.version == s2.version { break }
            }
            return seen
        }
        // Give the consumer time to take the first element, then publish changes that are not
        // changes for "edge", and give it time to take anything they wrongly yield.
        try await Task.sleep(for: .milliseconds(100))
        try cache.publish(byFleet: [:], fallback: s1)
        try cache.publish(byFleet: ["core": s2], fallback: s1)
        try await Task.sleep(for: .milliseconds(100))
        try cache.publish(byFleet: ["edge": s2], fallback: s1)
        #expect(await consumer.value == [s1.version, s2.version])
    }

    @Test("a watch on an empty cache waits for the first publish")
    func watchBeforePublish() async throws {
        let cache = SnapshotCache()
        let snapshot = try Fixtures.snapshot()
        var iterator = cache.watch(fleet: "edge").makeAsyncIterator()
        try cache.publish(byFleet: [:], fallback: snapshot)
        #expect(await iterator.next()?.version == snapshot.version)
    }
}
