import Crypto
import Foundation
import QpilotAPI

/// An immutable, consistent set of resources for one fleet.
///
/// Each type has its own version, derived from the versions of its resources, so a change to one
/// middleware's ECDS resource leaves the CDS and LDS versions as they were and Envoy is not asked
/// to re-apply them.
public struct Snapshot: Sendable {
    /// Resources by type, then by name.
    public let resources: [ResourceType: [String: Resource]]
    /// Per-type versions; a type with no resources still has a (stable) version.
    public let versions: [ResourceType: String]
    /// A digest of all per-type versions, reported as `system_version_info` in Delta.
    public let version: String
    /// The names a node of this fleet may be given a `Secret` for, on request: its intercepted
    /// hosts. The same list its listeners admit, so policy and config never disagree.
    public let secretNames: [HostPattern]

    /// Builds a snapshot. Throws ``SnapshotError/duplicateName`` when one name appears twice in a
    /// type, since Envoy rejects a response that carries a name twice.
    public init(_ byType: [ResourceType: [Resource]], secretNames: [HostPattern] = []) throws {
        var resources: [ResourceType: [String: Resource]] = [:]
        var versions: [ResourceType: String] = [:]
        for type in ResourceType.allCases {
            var named: [String: Resource] = [:]
            for resource in byType[type] ?? [] {
                guard named[resource.name] == nil else {
                    throw SnapshotError.duplicateName(type: type, name: resource.name)
                }
                named[resource.name] = resource
            }
            resources[type] = named
            versions[type] = Self.typeVersion(named.mapValues(\.version))
        }
        self.resources = resources
        self.versions = versions
        let all = ResourceType.allCases.map { versions[$0]! }.joined(separator: ".")
        self.version = Resource.hash(Data(all.utf8))
        self.secretNames = secretNames
    }

    /// This snapshot with `resources` added to their on-demand type (replacing any of the same
    /// name): the base config of a fleet plus what its nodes asked for.
    public func adding(_ onDemand: [ResourceType: [String: Resource]]) -> Snapshot {
        var byType = resources.mapValues { Array($0.values) }
        for (type, named) in onDemand {
            var merged = resources(of: type)
            merged.merge(named) { $1 }
            byType[type] = Array(merged.values)
        }
        // The names are unique by construction: the init cannot throw here.
        return try! Snapshot(byType, secretNames: secretNames)
    }

    /// Whether a node of this fleet may be given a secret named `name`.
    public func allowsSecret(_ name: String) -> Bool {
        secretNames.contains { $0.matches(name) }
    }

    /// The version of a type whose resources have these versions, by name. A SotW response that
    /// carries one ECDS resource at a time is labelled with this over what the client then holds,
    /// so a client holding the whole type reports exactly `version(of:)`.
    public static func typeVersion(_ versions: [String: String]) -> String {
        let joined = versions.keys.sorted().map { "\($0)=\(versions[$0]!)" }.joined(separator: "\n")
        return Resource.hash(Data(joined.utf8))
    }

    /// The version of one type.
    public func version(of type: ResourceType) -> String { versions[type]! }

    /// The resources of one type, by name.
    public func resources(of type: ResourceType) -> [String: Resource] { resources[type] ?? [:] }

    /// The version of each ECDS resource (each middleware's filter config), by name.
    public var filterVersions: [String: String] { resources(of: .extensionConfig).mapValues(\.version) }

    /// The version of each type that has resources: what a node holding this snapshot has ACKed
    /// (Envoy never subscribes to a type with nothing in it). On-demand types are left out: each
    /// node holds only the names it asked for.
    public var versionsOfNonEmptyTypes: [ResourceType: String] {
        var result: [ResourceType: String] = [:]
        for type in ResourceType.allCases where !type.isOnDemand && !resources(of: type).isEmpty { result[type] = version(of: type) }
        return result
    }
}

/// Why a snapshot cannot be built or published.
public enum SnapshotError: Error, Equatable, CustomStringConvertible {
    case duplicateName(type: ResourceType, name: String)
    case inconsistent([String])

    public var description: String {
        switch self {
        case .duplicateName(let type, let name):
            "two \(type) resources are named '\(name)'"
        case .inconsistent(let problems):
            "the snapshot refers to resources it does not contain: " + problems.joined(separator: "; ")
        }
    }
}
