import EnvoyAPI
import SwiftProtobuf

typealias Cluster = Envoy_Config_Cluster_V3_Cluster
typealias Listener = Envoy_Config_Listener_V3_Listener
typealias RouteConfiguration = Envoy_Config_Route_V3_RouteConfiguration
typealias HCM = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager
typealias HttpFilter = Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpFilter
typealias ConfigSource = Envoy_Config_Core_V3_ConfigSource
typealias Address = Envoy_Config_Core_V3_Address
typealias RBACFilter = Envoy_Extensions_Filters_Http_Rbac_V3_RBAC
typealias WasmFilter = Envoy_Extensions_Filters_Http_Wasm_V3_Wasm

/// Packs a message as `Any` with deterministic bytes, so equal config hashes equally.
func pack(_ message: some SwiftProtobuf.Message) -> Google_Protobuf_Any {
    var options = BinaryEncodingOptions()
    options.useDeterministicOrdering = true
    var any = Google_Protobuf_Any()
    any.typeURL = typeURL(of: message)
    // Serializing an initialized proto3 message cannot fail.
    any.value = try! message.serializedBytes(options: options)
    return any
}

/// Envoy's type URL for a message.
func typeURL(of message: some SwiftProtobuf.Message) -> String {
    "type.googleapis.com/" + type(of: message).protoMessageName
}

func typeURL<M: SwiftProtobuf.Message>(_: M.Type) -> String {
    "type.googleapis.com/" + M.protoMessageName
}

func duration(seconds: Int64) -> Google_Protobuf_Duration {
    var duration = Google_Protobuf_Duration()
    duration.seconds = seconds
    return duration
}

/// ADS as the config source, for RDS and ECDS.
func adsSource() -> ConfigSource {
    var source = ConfigSource()
    source.ads = Envoy_Config_Core_V3_AggregatedConfigSource()
    source.resourceApiVersion = .v3
    return source
}

func socketAddress(_ host: String, _ port: Int) -> Address {
    var socket = Envoy_Config_Core_V3_SocketAddress()
    socket.address = host
    socket.portValue = UInt32(port)
    var address = Address()
    address.socketAddress = socket
    return address
}
