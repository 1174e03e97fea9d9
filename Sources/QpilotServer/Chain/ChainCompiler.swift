import Crypto
import Foundation
import Modules
import QpilotAPI
import Translator
import XDS

/// Turns a checked chain into the snapshots Envoy receives. Pure: the modules are already
/// loaded and the secrets already read, so equal input gives byte-equal snapshots, and a chain
/// that would give Envoy an inconsistent config is refused here, before anything is published.
enum ChainCompiler {
    /// Snapshots ready to publish, and what they were built from.
    struct Compiled: Sendable {
        /// Checked for consistency, so publishing cannot fail.
        var snapshots: SnapshotCache.Checked
        var state: DesiredState
        /// What the nodes of each fleet key should hold.
        var versions: [FleetKey: ConfigVersions]
        /// Some middleware has `pullPolicy: Always`, so reconciles repeat on a timer.
        var needsRefresh: Bool
        /// The enabled entries as specs, each with the module it was compiled with: enough to
        /// build these snapshots again from the module store alone (see ChainWriter+LastGood).
        var compiledFrom: [MiddlewareSpec] = []

        /// The version of each middleware's filter config (ECDS resource name → version), per
        /// fleet key.
        var filterVersions: [FleetKey: [String: String]] {
            var result: [FleetKey: [String: String]] = [.everyOther: snapshots.fallback.filterVersions]
            for (fleet, snapshot) in snapshots.byFleet { result[.named(fleet)] = snapshot.filterVersions }
            return result
        }

        /// Middleware names in chain order.
        var chain: [String] { Translator.orderedChain(state.middleware).map(\.name) }

        /// The sha256 of each middleware's module, by name.
        var modules: [String: String] {
            Dictionary(state.middleware.map { ($0.name, $0.sha256) }, uniquingKeysWith: { first, _ in first })
        }

        /// The chain's specs with the module each was compiled with (a revision records it, so
        /// that it, and a rollback to it, always means the same bytes).
        func recordingModules(_ chain: [MiddlewareSpec]) -> [MiddlewareSpec] {
            let modules = modules
            return chain.map { spec in
                var spec = spec
                if spec.isEnabled { spec.resolvedSHA256 = modules[spec.name] }
                return spec
            }
        }
    }

    /// `modules[i]` is the module of `entries[i]`.
    static func compile(
        _ entries: [ChainEntry], modules: [LoadedModule], secrets: [String: String], desired: DesiredConfig,
        server: ServerSettings, versionKey: SymmetricKey? = nil, moduleCA: String? = nil
    ) throws(QpilotError) -> Compiled {
        // File mode never passes through `enabledEntries`, so the compiler holds the rule too.
        if let problem = MiddlewareRules.chainLengthProblem(entries.count) { throw QpilotError(.invalid, problem) }
        let fleets = Set(entries.flatMap { $0.fleets ?? [] })
        guard fleets.count <= MiddlewareRules.maxFleets else {
            throw QpilotError(
                .invalid,
                "the chain names \(fleets.count) fleets; at most \(MiddlewareRules.maxFleets) fleets may have middleware of their own (the others share the configuration of every other fleet)")
        }
        var middleware: [Middleware] = []
        for (entry, module) in zip(entries, modules) {
            let configuration: String
            do {
                configuration = try SecretReferences.resolve(entry.config, secrets: secrets)
            } catch {
                throw entry.problem(
                    .missingSecret, "config",
                    "refers to secret '\(error.name)', which is not set; set it with `qctl secret set \(error.name) --from-file FILE` (or, while qpilot is stopped, `qpilot secret set \(error.name) --from-file FILE`)")
            }
            let delivery: Middleware.Delivery
            switch entry.delivery ?? desired.delivery ?? (module.bytes.count > server.modules.inlineMaxBytes ? .remote : .inline) {
            case .inline: delivery = .inline(module.bytes)
            case .remote: delivery = .remote
            case .file:
                guard let sharedDir = server.modules.sharedDir else {
                    throw entry.problem(.invalid, "delivery", "delivery 'file' needs modules.sharedDir: a directory that Envoy can read")
                }
                delivery = .file(path: ModuleResolver.sharedPath(of: module.sha256, in: sharedDir).path)
            }
            middleware.append(
                Middleware(
                    name: entry.name, sha256: module.sha256, delivery: delivery, configuration: configuration,
                    failurePolicy: entry.failurePolicy, phase: entry.phase, priority: entry.priority, fleets: entry.fleets))
        }
        let endpoint = server.modules.endpointForEnvoy
        let state = DesiredState(
            egress: .init(
                address: desired.egress.address, port: desired.egress.port, accessLog: desired.egress.accessLog,
                allowInternal: desired.egress.allowInternal),
            callout: .init(accessLog: desired.callout.accessLog),
            moduleEndpoint: .init(host: endpoint.host, port: endpoint.port, ca: moduleCA), middleware: middleware, tls: desired.tls)

        var encodedMiddleware: [String: Resource] = [:]
        func snapshot(_ key: FleetKey) throws(QpilotError) -> Snapshot {
            do {
                return try SnapshotBuilder.snapshot(
                    Translator.translate(state, for: key), sharing: &encodedMiddleware, versionKey: versionKey)
            } catch {
                throw QpilotError(.invalidConfig, "cannot build the Envoy config: \(error)", cause: error)
            }
        }
        let fallback = try snapshot(.everyOther)
        var byFleet: [String: Snapshot] = [:]
        var versions: [FleetKey: ConfigVersions] = [.everyOther: fallback.configVersions]
        for key in state.fleetKeys {
            guard let fleet = key.name else { continue }
            byFleet[fleet] = try snapshot(key)
            versions[key] = byFleet[fleet]?.configVersions
        }
        let snapshots: SnapshotCache.Checked
        do {
            snapshots = try SnapshotCache.check(byFleet: byFleet, fallback: fallback)
        } catch {
            throw QpilotError(.invalidConfig, "the generated Envoy config is not consistent: \(error)", cause: error)
        }
        return Compiled(
            snapshots: snapshots, state: state, versions: versions,
            needsRefresh: entries.contains { $0.pullPolicy == .always },
            compiledFrom: zip(entries, modules).map { entry, module in
                var spec = entry.spec
                spec.resolvedSHA256 = module.sha256
                return spec
            })
    }
}

extension Snapshot {
    /// What a node holding this snapshot has ACKed, in the API's names.
    var configVersions: ConfigVersions { versionsOfNonEmptyTypes.configVersions }
}

extension Dictionary where Key == ResourceType, Value == String {
    /// The same versions, keyed by the API's names.
    var configVersions: ConfigVersions {
        Dictionary<ConfigType, String>(uniqueKeysWithValues: map { ($0.key.configType, $0.value) })
    }
}
