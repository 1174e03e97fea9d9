import EnvoyAPI
import SwiftProtobuf

/// The incremental (Delta) protocol rules for one ADS stream, with no I/O.
///
/// Rules (envoy api/xds_protocol.rst, "Incremental xDS"):
/// - A resource is sent when its version differs from the version the client holds. What the client
///   holds starts from `initial_resource_versions` on (re)connect and follows what was sent.
/// - Subscriptions change with `resource_names_subscribe` / `_unsubscribe`; `*` is the wildcard.
///   LDS and CDS start as wildcard when the first request names nothing.
/// - A subscribed name that does not exist is reported once in `removed_resources`.
/// - Several responses may be in flight; each nonce is answered by an ACK or a NACK.
/// - After a NACK nothing is resent in a loop: a resource goes out again only when its bytes
///   change, while names Envoy newly subscribes to are still answered.
/// - ECDS goes one resource per response (`ResourceType.sendsOneAtATime`), so a NACK names the one
///   middleware Envoy refused.
public struct DeltaStream: Sendable {
    /// One response to send.
    public struct Response: Sendable, Equatable {
        public let type: ResourceType
        public let systemVersion: String
        public let nonce: String
        public let resources: [Resource]
        public let removed: [String]

        /// The message for the wire.
        public var message: Envoy_Service_Discovery_V3_DeltaDiscoveryResponse { message(body: \.body) }

        /// The message for the wire, with each resource's bytes given by `body`.
        public func message(
            body: (Resource) throws -> Google_Protobuf_Any
        ) rethrows -> Envoy_Service_Discovery_V3_DeltaDiscoveryResponse {
            var response = Envoy_Service_Discovery_V3_DeltaDiscoveryResponse()
            response.typeURL = type.typeURL
            response.systemVersionInfo = systemVersion
            response.nonce = nonce
            response.removedResources = removed
            response.resources = try resources.map { resource in
                var wire = Envoy_Service_Discovery_V3_Resource()
                wire.name = resource.name
                wire.version = resource.version
                wire.resource = try body(resource)
                return wire
            }
            return response
        }
    }

    struct TypeState: Sendable {
        var requested = false
        var wildcard = false
        var subscribed: Set<String> = []
        var clientVersions: [String: String] = [:]
        var reportedMissing: Set<String> = []
        /// Responses awaiting a reply, by nonce: their version and the resources they carried.
        var inFlight: [String: (version: String, resources: [String: String])] = [:]
        var respondedOnce = false
    }

    private(set) var types: [ResourceType: TypeState] = [:]
    private(set) var snapshot: Snapshot?
    private var nonceCounter = 0

    public init() {}

    /// Every name the client subscribed to or said it holds, over all types: what this stream
    /// keeps in memory for the client.
    public var heldNames: Int { types.values.reduce(0) { $0 + $1.subscribed.count + $1.clientVersions.count } }

    /// Handles one request from Envoy.
    public mutating func receive(
        _ request: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest
    ) -> (events: [ProtocolEvent], responses: [Response]) {
        guard let type = ResourceType(typeURL: request.typeURL) else {
            return ([.unknownType(ProtocolEvent.shownTypeURL(request.typeURL))], [])
        }
        var state = types[type] ?? TypeState()
        var events: [ProtocolEvent] = []

        let subscribe = Set(request.resourceNamesSubscribe)
        let unsubscribe = Set(request.resourceNamesUnsubscribe)
        if !state.requested {
            state.requested = true
            state.clientVersions = request.initialResourceVersions
            if !request.initialResourceVersions.isEmpty { events.append(.holds(type, request.initialResourceVersions)) }
            state.wildcard = subscribe.contains("*") || (subscribe.isEmpty && type.isWildcardByDefault)
        } else {
            if subscribe.contains("*") { state.wildcard = true }
            if unsubscribe.contains("*") { state.wildcard = false }
        }
        state.subscribed.formUnion(subscribe.subtracting(["*"]))
        for name in unsubscribe where name != "*" {
            state.subscribed.remove(name)
            state.clientVersions[name] = nil
            state.reportedMissing.remove(name)
        }

        if !request.responseNonce.isEmpty {
            if let (version, resources) = state.inFlight.removeValue(forKey: request.responseNonce) {
                if request.hasErrorDetail {
                    events.append(
                        .nack(type, version: version, message: ProtocolEvent.shown(request.errorDetail.message), resources: resources))
                } else {
                    events.append(.ack(type, version: version, resources: resources))
                }
            } else {
                events.append(.staleNonce(type, nonce: request.responseNonce))
            }
        }
        types[type] = state

        return (events, respond(type))
    }

    /// Takes a new snapshot and returns the responses it causes, in make-before-break order.
    public mutating func update(_ snapshot: Snapshot) -> [Response] {
        self.snapshot = snapshot
        var responses: [Response] = []
        let order = ResourceType.breakOrder { type in
            // What the client holds of the type, that the snapshot no longer has.
            guard let held = types[type]?.clientVersions.keys else { return false }
            return !Set(held).isSubset(of: snapshot.resources(of: type).keys)
        }
        for type in order {
            responses += respond(type)
        }
        return responses
    }

    /// Sends a resource again although the client was sent its version: the NACK meant Envoy
    /// was still fetching its module (see `FetchRetry`). The caller renders the resend with other
    /// bytes, so Envoy builds it instead of skipping it.
    public mutating func resend(_ type: ResourceType, name: String) -> [Response] {
        guard var state = types[type], state.clientVersions[name] != nil else { return [] }
        state.clientVersions[name] = nil
        types[type] = state
        return respond(type)
    }

    private mutating func respond(_ type: ResourceType) -> [Response] {
        guard let snapshot, var state = types[type], state.requested else { return [] }
        let version = snapshot.version(of: type)
        // No parking check is needed: what the client holds is updated when a resource is sent, so
        // a NACKed resource is only sent again when its bytes change. A name never sent still goes.

        let available = snapshot.resources(of: type)
        var interest = state.subscribed
        if state.wildcard {
            interest.formUnion(available.keys)
            interest.formUnion(state.clientVersions.keys)
        }
        var send: [Resource] = []
        var removed: [String] = []
        for name in interest.sorted() {
            if let resource = available[name] {
                state.reportedMissing.remove(name)
                if state.clientVersions[name] != resource.version {
                    send.append(resource)
                    state.clientVersions[name] = resource.version
                }
            } else if state.clientVersions[name] != nil || !state.reportedMissing.contains(name) {
                removed.append(name)
                state.clientVersions[name] = nil
                if state.subscribed.contains(name) { state.reportedMissing.insert(name) }
            }
        }
        // Envoy waits for a first response on each type it starts, even an empty one.
        guard !send.isEmpty || !removed.isEmpty || !state.respondedOnce else {
            types[type] = state
            return []
        }
        // One response, or for ECDS one per resource (the removals ride with the first).
        let batches = type.sendsOneAtATime && send.count > 1 ? send.map { [$0] } : [send]
        var responses: [Response] = []
        for (index, batch) in batches.enumerated() {
            nonceCounter += 1
            let nonce = String(nonceCounter)
            state.inFlight[nonce] = (version, Dictionary(uniqueKeysWithValues: batch.map { ($0.name, $0.version) }))
            responses.append(
                Response(type: type, systemVersion: version, nonce: nonce, resources: batch, removed: index == 0 ? removed : []))
        }
        state.respondedOnce = true
        types[type] = state
        return responses
    }
}
