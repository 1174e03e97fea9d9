import EnvoyAPI
import SwiftProtobuf

/// What the stream loop needs from a protocol flavour; SotW and Delta each provide one.
protocol StreamFlavour: Sendable {
    associatedtype Request: Sendable
    associatedtype Response: Sendable
    associatedtype Wire: Sendable

    static var name: String { get }
    static func node(of request: Request) -> Envoy_Config_Core_V3_Node?
    /// The type a request is about and the names it (newly) subscribes to.
    static func subscriptions(of request: Request) -> (typeURL: String, names: [String])
    mutating func receive(_ request: Request) -> (events: [ProtocolEvent], responses: [Response])
    mutating func update(_ snapshot: Snapshot) -> [Response]
    mutating func drainEvents() -> [ProtocolEvent]
    var heldNames: Int { get }
    /// The snapshot the stream serves, once it has one.
    var snapshot: Snapshot? { get }
    /// Resends the resource `name` of `type` although the client was sent this version: a
    /// retry after a NACK that meant "not fetched yet".
    mutating func resend(_ type: ResourceType, name: String) -> [Response]
    static func describe(_ response: Response) -> (type: ResourceType, version: String)
    static func wire(_ response: Response, body: (Resource) throws -> Google_Protobuf_Any) rethrows -> Wire
}

extension SotWStream: StreamFlavour {
    static let name = "sotw"
    static func node(of request: Envoy_Service_Discovery_V3_DiscoveryRequest) -> Envoy_Config_Core_V3_Node? {
        request.hasNode ? request.node : nil
    }
    static func subscriptions(of request: Envoy_Service_Discovery_V3_DiscoveryRequest) -> (typeURL: String, names: [String]) {
        (request.typeURL, request.resourceNames)
    }
    static func describe(_ response: Response) -> (type: ResourceType, version: String) {
        (response.type, response.version)
    }
    static func wire(
        _ response: Response, body: (Resource) throws -> Google_Protobuf_Any
    ) rethrows -> Envoy_Service_Discovery_V3_DiscoveryResponse {
        try response.message(body: body)
    }
}

extension DeltaStream: StreamFlavour {
    static let name = "delta"
    mutating func drainEvents() -> [ProtocolEvent] { [] }
    static func node(of request: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest) -> Envoy_Config_Core_V3_Node? {
        request.hasNode ? request.node : nil
    }
    static func subscriptions(of request: Envoy_Service_Discovery_V3_DeltaDiscoveryRequest) -> (typeURL: String, names: [String]) {
        (request.typeURL, request.resourceNamesSubscribe)
    }
    static func describe(_ response: Response) -> (type: ResourceType, version: String) {
        (response.type, response.systemVersion)
    }
    static func wire(
        _ response: Response, body: (Resource) throws -> Google_Protobuf_Any
    ) rethrows -> Envoy_Service_Discovery_V3_DeltaDiscoveryResponse {
        try response.message(body: body)
    }
}
