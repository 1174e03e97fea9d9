// The SotW and Delta state machines, driven by arbitrary bytes: each byte sequence is a run of
// snapshot changes and requests a client might send (ACKs, NACKs, stale and made-up nonces,
// subscription changes, reconnect versions). The machines must never trap, and must keep the
// promises status depends on; each check below is a `precondition`, so a broken promise is a
// crash the fuzzer reports.
import EnvoyAPI
import Foundation
import SwiftProtobuf
import XDS

/// Reads the fuzzer's bytes as small choices; past the end every choice is 0.
struct Choices {
    private let bytes: [UInt8]
    private var index = 0
    init(_ data: Data) { bytes = [UInt8](data) }
    var isEmpty: Bool { index >= bytes.count }
    mutating func next(_ bound: Int) -> Int {
        defer { index += 1 }
        return index < bytes.count ? Int(bytes[index]) % bound : 0
    }
}

enum StreamFuzz {
    static let names = ["a", "b", "c", "d"]

    /// `QPILOT_FUZZ_TRACE=1 qpilot-fuzz sotw FILE` prints each step, to understand a finding.
    static let tracing = ProcessInfo.processInfo.environment["QPILOT_FUZZ_TRACE"] != nil
    static func trace(_ text: @autoclosure () -> String) {
        if tracing { FileHandle.standardError.write(Data((text() + "\n").utf8)) }
    }
    static func shown(_ resources: [Resource]) -> String {
        resources.map { "\($0.name)@\($0.version.prefix(4))" }.joined(separator: ",")
    }

    /// Eight snapshots: in each, every type holds some of `names`, with one of two payloads.
    static let snapshots: [Snapshot] = (0..<8).map { variant in
        var byType: [ResourceType: [Resource]] = [:]
        for type in ResourceType.allCases {
            byType[type] = names.enumerated().compactMap { offset, name in
                guard (variant + offset) % 5 != 0 else { return nil }
                var payload = Google_Protobuf_StringValue()
                payload.value = "\(name)-\((variant >> offset) & 1)"
                return try? Resource(name: name, typeURL: type.typeURL, message: payload)
            }
        }
        return try! Snapshot(byType)
    }

    static func names(_ mask: Int) -> [String] {
        names.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
    }

    /// What the client was sent, to check the machine's reports against.
    struct Ledger {
        /// Every response by nonce, per type: the resources it carried.
        var sent: [ResourceType: [String: [String: String]]] = [:]
        var latest: [ResourceType: String] = [:]
        /// A NACKed resource version: the machine must not send it again while the snapshot keeps it
        /// and the client was sent nothing newer of it.
        var refused: [ResourceType: [String: String]] = [:]
        /// The nonce of the latest response that carried each resource.
        var latestCarrier: [ResourceType: [String: String]] = [:]
        var snapshot: Snapshot?

        mutating func sending(
            _ type: ResourceType, nonce: String, _ resources: [Resource], removed: [String] = [], oneAtATime: Bool
        ) {
            trace("  sent \(type) nonce \(nonce): \(shown(resources)) removed \(removed)")
            precondition(Set(resources.map(\.name)).count == resources.count, "a name twice in one response")
            if let snapshot {
                for resource in resources {
                    precondition(snapshot.resources(of: type)[resource.name] == resource, "a resource the snapshot does not hold")
                }
            }
            if oneAtATime {
                precondition(resources.count <= 1, "ECDS must go one resource per response")
                for resource in resources {
                    precondition(refused[type]?[resource.name] != resource.version, "a refused version was resent")
                }
            }
            sent[type, default: [:]][nonce] = Dictionary(uniqueKeysWithValues: resources.map { ($0.name, $0.version) })
            for resource in resources {
                latestCarrier[type, default: [:]][resource.name] = nonce
                if refused[type]?[resource.name] != resource.version { refused[type]?[resource.name] = nil }
            }
            // A removed resource may later be sent afresh, whatever the client refused before.
            for name in removed {
                latestCarrier[type, default: [:]][name] = nonce
                refused[type]?[name] = nil
            }
            latest[type] = nonce
        }

        /// One of the last eight nonces sent for a type (nonces are counters), or "" before any.
        func recentNonce(_ type: ResourceType, _ back: Int) -> String {
            guard let latest = latest[type].flatMap(Int.init) else { return "" }
            return String(max(1, latest - back))
        }

        mutating func update(_ snapshot: Snapshot) {
            trace("snapshot \(snapshot.version)")
            self.snapshot = snapshot
            for type in ResourceType.allCases {
                let available = snapshot.resources(of: type)
                refused[type] = refused[type]?.filter { available[$0.key]?.version == $0.value }
            }
        }

        /// Checks the events of one request that replied to `nonce`, with or without an error.
        mutating func replied(_ type: ResourceType, nonce: String, error: Bool, events: [ProtocolEvent], initial: [String: String]) {
            for event in events {
                switch event {
                case .ack(let acked, _, let resources) where acked == type:
                    precondition(!error, "a NACK was recorded as an ACK")
                    let carried = sent[type]?[nonce] ?? [:]
                    for (name, version) in resources {
                        precondition(
                            carried[name] == version || initial[name] == version,
                            "an ACK reported a resource version the response did not carry")
                    }
                case .nack(let nacked, _, _, let resources) where nacked == type:
                    precondition(error, "an ACK was recorded as a NACK")
                    precondition(resources == (sent[type]?[nonce] ?? [:]), "a NACK names other resources than its response carried")
                    // A refusal parks the resource only if nothing newer of it went out since (Delta
                    // may have several responses in flight).
                    for (name, version) in resources where latestCarrier[type]?[name] == nonce {
                        refused[type, default: [:]][name] = version
                    }
                default:
                    break
                }
            }
        }
    }

    static func sotw(_ data: Data) {
        var choices = Choices(data)
        var stream = SotWStream()
        var ledger = Ledger()
        // For the progress check on ECDS: what the client asked for and holds, and the response
        // it has not answered yet.
        var asked: Set<String>?
        var wildcard = false
        var held: [String: String] = [:]
        var awaiting: String?
        var steps = 0
        func take(_ responses: [SotWStream.Response]) {
            for response in responses {
                ledger.sending(response.type, nonce: response.nonce, response.resources, oneAtATime: response.type.sendsOneAtATime)
                if response.type == .extensionConfig {
                    precondition(awaiting == nil, "a second ECDS response while one is unanswered")
                    awaiting = response.nonce
                }
            }
        }
        func learn(_ events: [ProtocolEvent]) {
            for case .holds(.extensionConfig, let resources) in events { held = resources }
        }
        while !choices.isEmpty, steps < 256 {
            steps += 1
            if choices.next(3) == 0 {
                let snapshot = snapshots[choices.next(snapshots.count)]
                ledger.update(snapshot)
                take(stream.update(snapshot))
                learn(stream.drainEvents())
            } else {
                let type = ResourceType.allCases[choices.next(ResourceType.allCases.count)]
                var request = Envoy_Service_Discovery_V3_DiscoveryRequest()
                request.typeURL = type.typeURL
                request.resourceNames = names(choices.next(16)) + (choices.next(8) == 0 ? ["*"] : [])
                switch choices.next(4) {
                case 0: break
                case 1: request.responseNonce = ledger.latest[type] ?? ""
                case 2: request.responseNonce = ledger.recentNonce(type, choices.next(8))
                default: request.responseNonce = "made-up"
                }
                let error = choices.next(3) == 0
                if error { request.errorDetail.message = "refused" }
                if choices.next(4) == 0 { request.versionInfo = snapshots[choices.next(snapshots.count)].version(of: type) }
                trace(
                    "request \(type) names \(request.resourceNames) version \(request.versionInfo.prefix(4)) "
                        + "nonce '\(request.responseNonce)' error \(error)")
                if type == .extensionConfig, let nonce = awaiting, request.responseNonce == nonce {
                    awaiting = nil
                    if !error { held.merge(ledger.sent[type]?[nonce] ?? [:]) { $1 } }
                }
                let (events, responses) = stream.receive(request)
                trace("  events \(events)")
                if !request.responseNonce.isEmpty {
                    ledger.replied(type, nonce: request.responseNonce, error: error, events: events, initial: [:])
                }
                // A request with a stale nonce is ignored whole, its names included (xds_protocol.rst).
                let stale = events.contains { if case .staleNonce = $0 { true } else { false } }
                if type == .extensionConfig, !stale {
                    let names = Set(request.resourceNames)
                    wildcard = names.contains("*")
                    asked = names.subtracting(["*"])
                    // Envoy no longer asks for these: a refusal of one no longer holds it back.
                    if !wildcard { ledger.refused[type] = ledger.refused[type]?.filter { names.contains($0.key) } }
                }
                learn(events)
                take(responses)
            }
            // Progress: with nothing in flight, every ECDS resource the client asks for is one it
            // holds at the snapshot's version, or one it refused at that version.
            if let asked, awaiting == nil, let snapshot = ledger.snapshot {
                for (name, resource) in snapshot.resources(of: .extensionConfig) where wildcard || asked.contains(name) {
                    precondition(
                        held[name] == resource.version || ledger.refused[.extensionConfig]?[name] == resource.version,
                        "ECDS stalled: \(name) is neither held nor refused, and nothing is in flight")
                }
            }
        }
    }

    static func delta(_ data: Data) {
        var choices = Choices(data)
        var stream = DeltaStream()
        var ledger = Ledger()
        var initial: [ResourceType: [String: String]] = [:]
        var requested: Set<ResourceType> = []
        var steps = 0
        func take(_ responses: [DeltaStream.Response]) {
            for response in responses {
                ledger.sending(
                    response.type, nonce: response.nonce, response.resources, removed: response.removed,
                    oneAtATime: response.type.sendsOneAtATime)
            }
        }
        while !choices.isEmpty, steps < 256 {
            steps += 1
            if choices.next(3) == 0 {
                let snapshot = snapshots[choices.next(snapshots.count)]
                ledger.update(snapshot)
                take(stream.update(snapshot))
                continue
            }
            let type = ResourceType.allCases[choices.next(ResourceType.allCases.count)]
            var request = Envoy_Service_Discovery_V3_DeltaDiscoveryRequest()
            request.typeURL = type.typeURL
            request.resourceNamesSubscribe = names(choices.next(16)) + (choices.next(8) == 0 ? ["*"] : [])
            let unsubscribed = names(choices.next(16))
            request.resourceNamesUnsubscribe = unsubscribed
            if !requested.contains(type) {
                requested.insert(type)
                let source = snapshots[choices.next(snapshots.count)].resources(of: type)
                let held = source.filter { _ in choices.next(2) == 0 }.mapValues(\.version)
                request.initialResourceVersions = held
                initial[type] = held
            }
            switch choices.next(3) {
            case 0: break
            case 1: request.responseNonce = ledger.recentNonce(type, choices.next(8))
            default: request.responseNonce = "made-up"
            }
            let error = choices.next(3) == 0
            if error { request.errorDetail.message = "refused" }
            trace(
                "request \(type) subscribe \(request.resourceNamesSubscribe) unsubscribe \(unsubscribed) "
                    + "initial \(request.initialResourceVersions.mapValues { $0.prefix(4) }) nonce '\(request.responseNonce)' error \(error)")
            let (events, responses) = stream.receive(request)
            trace("  events \(events)")
            if !request.responseNonce.isEmpty {
                ledger.replied(type, nonce: request.responseNonce, error: error, events: events, initial: initial[type] ?? [:])
            }
            // A resource Envoy unsubscribed from (even one it refused, before or after) may be sent afresh.
            for name in unsubscribed {
                ledger.refused[type]?[name] = nil
                ledger.latestCarrier[type]?[name] = nil
            }
            take(responses)
        }
    }
}
