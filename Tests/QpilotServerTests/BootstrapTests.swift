import Foundation
import QpilotServer
import Testing
import Yams
import QpilotTestSupport

@Suite("Bootstrap")
struct BootstrapTests {
    /// The bootstrap as a YAML tree.
    static func parsed(_ bootstrap: Bootstrap) throws -> [String: Any] {
        try #require(try Yams.load(yaml: bootstrap.yaml) as? [String: Any])
    }

    /// Follows `path` through mappings, and through the first element of lists.
    static func value(_ tree: Any?, _ path: String...) -> Any? {
        var current = tree
        for key in path {
            if let list = current as? [Any] { current = list.first }
            current = (current as? [String: Any])?[key]
        }
        return current
    }

    @Test("the node identity and fleet are set, in node.cluster and in metadata qpilot.fleet")
    func node() throws {
        let tree = try Self.parsed(Bootstrap(nodeID: "envoy-7", fleet: "edge"))
        #expect(Self.value(tree, "node", "id") as? String == "envoy-7")
        #expect(Self.value(tree, "node", "cluster") as? String == "edge")
        #expect(Self.value(tree, "node", "metadata", "qpilot.fleet") as? String == "edge")
    }

    @Test("the ADS flavour is GRPC for SotW and DELTA_GRPC for Delta", arguments: [(false, "GRPC"), (true, "DELTA_GRPC")])
    func flavour(delta: Bool, apiType: String) throws {
        let tree = try Self.parsed(Bootstrap(nodeID: "n", fleet: "f", delta: delta))
        let ads = Self.value(tree, "dynamic_resources", "ads_config")
        #expect(Self.value(ads, "api_type") as? String == apiType)
        #expect(Self.value(ads, "transport_api_version") as? String == "V3")
        #expect(Self.value(ads, "grpc_services", "envoy_grpc", "cluster_name") as? String == "qpilot_xds")
        #expect(Self.value(tree, "dynamic_resources", "cds_config", "resource_api_version") as? String == "V3")
        #expect(Self.value(tree, "dynamic_resources", "lds_config", "ads") is [String: Any])
    }

    @Test("the xDS address, admin port and receive limit are the ones given")
    func addresses() throws {
        let bootstrap = Bootstrap(
            nodeID: "n", fleet: "f", xds: HostPort(host: "10.1.2.3", port: 19000), adminPort: 9911,
            maxReceiveBytes: 64 * 1024 * 1024)
        let tree = try Self.parsed(bootstrap)
        let cluster = try #require((Self.value(tree, "static_resources", "clusters") as? [Any])?.only)
        #expect(Self.value(cluster, "name") as? String == "qpilot_xds")
        #expect(Self.value(cluster, "type") as? String == "STATIC")
        let socket = Self.value(cluster, "load_assignment", "endpoints", "lb_endpoints", "endpoint", "address", "socket_address")
        #expect(Self.value(socket, "address") as? String == "10.1.2.3")
        #expect(Self.value(socket, "port_value") as? Int == 19000)
        #expect(Self.value(tree, "admin", "address", "socket_address", "port_value") as? Int == 9911)
        #expect(Self.value(tree, "admin", "address", "socket_address", "address") as? String == "127.0.0.1")
        #expect(
            Self.value(tree, "dynamic_resources", "ads_config", "grpc_services", "envoy_grpc", "max_receive_message_length")
                as? Int == 64 * 1024 * 1024)
        #expect(
            Self.value(tree, "bootstrap_extensions", "name") as? String == "envoy.bootstrap.internal_listener",
            "the callout listener needs the internal-listener extension")
    }

    @Test("a host name for xDS makes the cluster STRICT_DNS", arguments: [("qpilot.svc", "STRICT_DNS"), ("127.0.0.1", "STATIC")])
    func dnsCluster(host: String, type: String) throws {
        let tree = try Self.parsed(Bootstrap(nodeID: "n", fleet: "f", xds: HostPort(host: host, port: 18000)))
        #expect(Self.value(tree, "static_resources", "clusters", "type") as? String == type)
    }

    @Test("replicas: every xDS address is an endpoint of the ADS cluster, in order; a name among them makes it STRICT_DNS")
    func replicas() throws {
        let replicas = [HostPort(host: "127.0.0.2", port: 18010), HostPort(host: "::1", port: 18020)]
        let tree = try Self.parsed(Bootstrap(nodeID: "n", fleet: "f", xds: HostPort(host: "127.0.0.1", port: 18000), replicas: replicas))
        let endpoints = try #require(Self.value(tree, "static_resources", "clusters", "load_assignment", "endpoints", "lb_endpoints") as? [Any])
        let addresses = endpoints.map { entry in
            let socket = Self.value(entry, "endpoint", "address", "socket_address")
            return "\(Self.value(socket, "address") ?? "")|\(Self.value(socket, "port_value") ?? "")"
        }
        #expect(addresses == ["127.0.0.1|18000", "127.0.0.2|18010", "::1|18020"])
        #expect(Self.value(tree, "static_resources", "clusters", "type") as? String == "STATIC")
        let named = try Self.parsed(
            Bootstrap(nodeID: "n", fleet: "f", xds: HostPort(host: "127.0.0.1", port: 18000), replicas: [HostPort(host: "qpilot-2.svc", port: 18000)]))
        #expect(Self.value(named, "static_resources", "clusters", "type") as? String == "STRICT_DNS")
    }

    @Test("the defaults are valid and listen where the docs say")
    func defaults() throws {
        let bootstrap = Bootstrap(nodeID: "n", fleet: "f")
        try bootstrap.validate()
        let tree = try Self.parsed(bootstrap)
        #expect(Self.value(tree, "dynamic_resources", "ads_config", "api_type") as? String == "GRPC")
        #expect(Self.value(tree, "admin", "address", "socket_address", "port_value") as? Int == 9901)
    }

    @Test(
        "validate() refuses node ids and fleets that would break the YAML or Envoy's identity",
        arguments: [
            ("", "f", "--node-id"),
            ("has space", "f", "--node-id"),
            ("quote\"d", "f", "--node-id"),
            ("back\\slash", "f", "--node-id"),
            ("tab\there", "f", "--node-id"),
            ("nœud", "f", "--node-id"),
            ("n", "", "--fleet"),
            ("n", "a b", "--fleet"),
        ])
    func invalid(nodeID: String, fleet: String, field: String) throws {
        let error = try #require(throws: QpilotError.self) { try Bootstrap(nodeID: nodeID, fleet: fleet).validate() }
        #expect(error.field == field)
        #expect(error.line == nil)
        #expect(error.message.contains("ASCII"))
    }

    @Test("validate() refuses an admin port out of range", arguments: [0, 65536, -1])
    func invalidAdminPort(port: Int) throws {
        let error = try #require(throws: QpilotError.self) {
            try Bootstrap(nodeID: "n", fleet: "f", adminPort: port).validate()
        }
        #expect(error.field == "--admin-port")
    }

    @Test("validate() accepts ordinary ids", arguments: ["envoy-1", "pod.ns.svc", "a_b:c/d@e"])
    func valid(nodeID: String) throws {
        try Bootstrap(nodeID: nodeID, fleet: "edge").validate()
        let tree = try Self.parsed(Bootstrap(nodeID: nodeID, fleet: "edge"))
        #expect(Self.value(tree, "node", "id") as? String == nodeID, "the id survives the YAML unchanged")
    }
}
