import EnvoyAPI

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
public struct SotWStream: Sendable {
    /// One response to send.
    public struct Response: Sendable, Equatable {
        public let type: ResourceType
        public let version: String
        public let nonce: String
        public let resources: [Resource]

        /// The message for the wire.
        public var message: Envoy_Service_Discovery_V3_DiscoveryResponse {
            var response = Envoy_Service_Discovery_V3_DiscoveryResponse()
            response.typeURL = type.typeURL
            response.versionInfo = version
            response.nonce = nonce
            response.resources = resources.map(\.body)
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
        var parkedVersion: String?
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
                state.parkedVersion = version
                events.append(.nack(type, version: version, message: ProtocolEvent.shown(request.errorDetail.message)))
            } else {
                state.awaitingReply = false
                events.append(.ack(type, version: request.versionInfo))
            }
        } else if !state.requested, !request.versionInfo.isEmpty {
            // A reconnecting Envoy already holds this version from an earlier stream.
            state.initialClientVersion = request.versionInfo
        }

        let names = Set(request.resourceNames)
        state.wildcard = names.contains("*") || (names.isEmpty && type.isWildcardByDefault)
        state.subscribed = names.subtracting(["*"])
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
            if let parked = types[type]?.parkedVersion, parked != snapshot.version(of: type) {
                types[type]?.parkedVersion = nil
            }
        }
        for type in ResourceType.breakOrder(dropping: { dropsSentResources($0, snapshot) }) {
            if let response = respond(type) { responses.append(response) }
        }
        return responses
    }

    /// Whether the snapshot lacks a resource this stream sent of that type.
    private func dropsSentResources(_ type: ResourceType, _ snapshot: Snapshot) -> Bool {
        guard let sent = types[type]?.sentNames, !sent.isEmpty else { return false }
        return !sent.isSubset(of: snapshot.resources(of: type).keys)
    }

    private mutating func respond(_ type: ResourceType) -> Response? {
        guard let snapshot, var state = types[type], state.requested, !state.awaitingReply else { return nil }
        let version = snapshot.version(of: type)
        let available = snapshot.resources(of: type)
        let names = state.wildcard ? Set(available.keys) : state.subscribed.intersection(available.keys)
        // A NACKed version is not resent, unless Envoy now asks for names it was never sent.
        if state.parkedVersion == version, names.isSubset(of: state.sentNames) { return nil }
        if state.sentVersion == version, state.sentNames == names { return nil }
        if state.sentVersion == nil, state.initialClientVersion == version {
            // A reconnecting Envoy already holds this version: nothing to send, and it counts as ACKed.
            pendingEvents.append(.ack(type, version: version))
            types[type]?.initialClientVersion = nil
            types[type]?.sentVersion = version
            types[type]?.sentNames = names
            return nil
        }

        nonceCounter += 1
        let nonce = String(nonceCounter)
        state.sentVersion = version
        state.sentNonce = nonce
        state.sentNames = names
        state.awaitingReply = true
        state.initialClientVersion = nil
        types[type] = state
        return Response(
            type: type, version: version, nonce: nonce,
            resources: names.sorted().map { available[$0]! })
    }
}
