import EnvoyAPI
import SwiftProtobuf

/// The State-of-the-World protocol rules for one ADS stream, with no I/O.
///
/// Rules (envoy api/xds_protocol.rst, "ACK/NACK and resource type instance version"):
/// - `version_info` and `nonce` are per type. A request that repeats the latest nonce with no
///   `error_detail` is an ACK of that response; with `error_detail` it is a NACK.
/// - A request carrying an older nonce is stale and is ignored: Envoy will reply to the newest one.
/// - At most one response per type is in flight. The next goes out when Envoy replies.
/// - After a NACK the same version is never resent (go-control-plane does, and loops; its issues
///   #46, #582, #962). The type is parked until the snapshot changes.
/// - LDS and CDS with no names are wildcard; other types carry the names Envoy wants.
/// - On-demand types (SDS) carry the names the client asked for that exist, labelled with the
///   versions of just those, so a certificate made for another node of the fleet sends nothing.
///   Envoy skips a name absent from a response if it never held it.
/// - ECDS goes one resource per response (`ResourceType.sendsOneAtATime`): a non-wildcard type may
///   carry a subset, and Envoy updates only the subscriptions named in a response. A NACK then
///   names one middleware, parks only that resource, and the others still go out. Each such
///   response is labelled with the type version of what the client holds once it applies it, so
///   a client holding the whole type reports the snapshot's version on a reconnect.
public struct SotWStream: Sendable {
    /// One response to send.
    public struct Response: Sendable, Equatable {
        public let type: ResourceType
        public let version: String
        public let nonce: String
        public let resources: [Resource]

        /// The message for the wire.
        public var message: Envoy_Service_Discovery_V3_DiscoveryResponse { message(body: \.body) }

        /// The message for the wire, with each resource's bytes given by `body`.
        public func message(
            body: (Resource) throws -> Google_Protobuf_Any
        ) rethrows -> Envoy_Service_Discovery_V3_DiscoveryResponse {
            var response = Envoy_Service_Discovery_V3_DiscoveryResponse()
            response.typeURL = type.typeURL
            response.versionInfo = version
            response.nonce = nonce
            response.resources = try resources.map(body)
            return response
        }
    }

    struct TypeState: Sendable {
        var requested = false
        var wildcard = false
        var subscribed: Set<String> = []
        var sentVersion: String?
        var sentNonce: String?
        var sentNames: Set<String> = []
        var awaitingReply = false
        /// The resources of the response awaiting a reply, by name, with their versions.
        var inFlight: [String: String] = [:]
        /// What the client holds, as far as this stream has seen it ACK.
        var held: [String: String] = [:]
        /// A whole-type response Envoy rejected: not resent until the type's version changes.
        var parkedVersion: String?
        /// One-at-a-time types: resources Envoy rejected, not resent until their version changes.
        var parked: [String: String] = [:]
        /// The version Envoy said it holds on its first request (a reconnect).
        var initialClientVersion: String?
    }

    private(set) var types: [ResourceType: TypeState] = [:]
    private(set) var snapshot: Snapshot?
    private var nonceCounter = 0
    /// Events learnt while handling a snapshot rather than a request (a reconnect's ACK).
    private var pendingEvents: [ProtocolEvent] = []

    public init() {}

    /// Every name the client subscribed to, over all types.
    public var heldNames: Int { types.values.reduce(0) { $0 + $1.subscribed.count } }

    /// Handles one request from Envoy.
    public mutating func receive(
        _ request: Envoy_Service_Discovery_V3_DiscoveryRequest
    ) -> (events: [ProtocolEvent], responses: [Response]) {
        guard let type = ResourceType(typeURL: request.typeURL) else {
            return ([.unknownType(ProtocolEvent.shownTypeURL(request.typeURL))], [])
        }
        var state = types[type] ?? TypeState()
        var events: [ProtocolEvent] = []

        if !request.responseNonce.isEmpty {
            guard request.responseNonce == state.sentNonce else {
                return ([.staleNonce(type, nonce: request.responseNonce)], [])
            }
            if !state.awaitingReply {
                // This response was already ACKed or NACKed. Envoy repeats the nonce when it changes
                // its subscription; that says nothing new about the version, and must not turn a
                // NACK into an ACK of the older version it still holds.
            } else if request.hasErrorDetail {
                let version = state.sentVersion ?? ""
                state.awaitingReply = false
                if type.sendsOneAtATime {
                    state.parked.merge(state.inFlight) { $1 }
                } else {
                    state.parkedVersion = version
                }
                events.append(
                    .nack(type, version: version, message: ProtocolEvent.shown(request.errorDetail.message), resources: state.inFlight))
            } else {
                state.awaitingReply = false
                state.held = type.sendsOneAtATime ? state.held.merging(state.inFlight) { $1 } : state.inFlight
                events.append(.ack(type, version: request.versionInfo, resources: state.inFlight))
            }
        } else if !state.requested, !request.versionInfo.isEmpty {
            // A reconnecting Envoy already holds this version from an earlier stream.
            state.initialClientVersion = request.versionInfo
        }

        let names = Set(request.resourceNames)
        state.wildcard = names.contains("*") || (names.isEmpty && type.isWildcardByDefault)
        state.subscribed = names.subtracting(["*"])
        // A refused resource Envoy no longer asks for is forgotten here: if it asks again, it gets it.
        if !state.wildcard { state.parked = state.parked.filter { state.subscribed.contains($0.key) } }
        state.requested = true
        types[type] = state

        var responses: [Response] = []
        if let response = respond(type) { responses.append(response) }
        return (events + drainEvents(), responses)
    }

    /// Events that `update(_:)` learnt; the server records them after each update.
    public mutating func drainEvents() -> [ProtocolEvent] {
        defer { pendingEvents = [] }
        return pendingEvents
    }

    /// Takes a new snapshot and returns the responses it causes, in make-before-break order.
    public mutating func update(_ snapshot: Snapshot) -> [Response] {
        self.snapshot = snapshot
        var responses: [Response] = []
        for type in ResourceType.allCases {
            guard var state = types[type] else { continue }
            if let parked = state.parkedVersion, parked != snapshot.version(of: type) { state.parkedVersion = nil }
            let available = snapshot.resources(of: type)
            state.parked = state.parked.filter { available[$0.key]?.version == $0.value }
            types[type] = state
        }
        for type in ResourceType.breakOrder(dropping: { dropsSentResources($0, snapshot) }) {
            if let response = respond(type) { responses.append(response) }
        }
        return responses
    }

    /// Sends a refused resource of a one-at-a-time type again, at the same version: the NACK
    /// meant Envoy was still fetching its module (see `FetchRetry`). The caller renders the
    /// resend with other bytes, so Envoy builds it instead of skipping it.
    public mutating func resend(_ type: ResourceType, name: String) -> [Response] {
        guard type.sendsOneAtATime, var state = types[type], state.parked[name] != nil else { return [] }
        state.parked[name] = nil
        types[type] = state
        return respond(type).map { [$0] } ?? []
    }

    /// Whether the snapshot lacks a resource this stream sent of that type.
    private func dropsSentResources(_ type: ResourceType, _ snapshot: Snapshot) -> Bool {
        guard let state = types[type] else { return false }
        let sent = state.sentNames.union(state.held.keys)
        return !sent.isEmpty && !sent.isSubset(of: snapshot.resources(of: type).keys)
    }

    private mutating func respond(_ type: ResourceType) -> Response? {
        guard let snapshot, var state = types[type], state.requested, !state.awaitingReply else { return nil }
        let available = snapshot.resources(of: type)
        let names = state.wildcard ? Set(available.keys) : state.subscribed.intersection(available.keys)
        let current = Dictionary(uniqueKeysWithValues: names.map { ($0, available[$0]!.version) })
        // What a client holding all of `current` reports: one-at-a-time responses are labelled by
        // what the client holds; whole-type responses by the snapshot's version of the type.
        // On-demand types too: each node holds only what it asked for.
        let complete =
            type.sendsOneAtATime || type.isOnDemand ? Snapshot.typeVersion(current) : snapshot.version(of: type)
        if state.sentNonce == nil, state.sentVersion == nil, state.initialClientVersion == complete {
            // A reconnecting Envoy already holds this version: nothing to send, and it counts as
            // ACKed. (For ECDS the node registry still checks each resource against the NACKs it
            // remembers: Envoy ACKs a re-sent config it rejected without building it.)
            pendingEvents.append(.ack(type, version: complete, resources: [:]))
            pendingEvents.append(.holds(type, current))
            state.initialClientVersion = nil
            state.sentVersion = complete
            state.sentNames = names
            state.held = current
            types[type] = state
            return nil
        }

        let version: String
        let carried: [String: String]
        if type.sendsOneAtATime {
            state.held = state.held.filter { names.contains($0.key) }
            let next = names.sorted().first { current[$0] != state.held[$0] && current[$0] != state.parked[$0] }
            if let next {
                carried = [next: current[next]!]
                // Another version goes out, so an older refusal of this resource no longer holds.
                state.parked[next] = nil
                version = Snapshot.typeVersion(state.held.merging(carried) { $1 })
            } else if state.sentNonce == nil {
                // Nothing to send, but Envoy waits for a first answer on each type it asks for.
                carried = [:]
                version = Snapshot.typeVersion(state.held)
            } else {
                types[type] = state
                return nil
            }
        } else {
            version = complete
            carried = current
            // A NACKed version is not resent, unless Envoy now asks for names it was never sent.
            if state.parkedVersion == version, names.isSubset(of: state.sentNames) { return nil }
            if state.sentVersion == version, state.sentNames == names { return nil }
        }

        nonceCounter += 1
        let nonce = String(nonceCounter)
        state.sentVersion = version
        state.sentNonce = nonce
        state.sentNames = Set(carried.keys)
        state.inFlight = carried
        state.awaitingReply = true
        state.initialClientVersion = nil
        types[type] = state
        return Response(
            type: type, version: version, nonce: nonce,
            resources: carried.keys.sorted().map { available[$0]! })
    }
}
