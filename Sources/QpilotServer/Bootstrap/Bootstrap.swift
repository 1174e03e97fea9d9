import PKI

/// The Envoy bootstrap that connects one Envoy to qpilot.
///
/// It holds only what Envoy needs before it can talk to qpilot: its node identity and fleet, the
/// ADS cluster, the internal-listener extension (for the callout path), and an admin interface on
/// loopback. Everything else arrives over ADS.
public struct Bootstrap: Sendable, Equatable {
    public var nodeID: String
    public var fleet: String
    public var xds: HostPort
    /// More xDS addresses: the other replicas of a qpilot on a shared store. Envoy's ADS cluster
    /// balances new streams over all of them, so when the stream to one ends (the replica
    /// stopped or died), Envoy opens the next one to another.
    public var replicas: [HostPort]
    public var delta: Bool
    public var adminPort: Int
    /// Largest ADS message Envoy accepts; modules travel inline, so this is large.
    public var maxReceiveBytes: Int
    /// Where an enrolled node keeps its certificate, key and qpilot's CA; nil for plaintext xDS.
    public var certificateDirectory: String?

    /// The files of an enrolled node, in `certificateDirectory`.
    public enum Files {
        public static let key = "node.key"
        public static let certificate = "node.crt"
        public static let ca = "ca.crt"
        /// The SDS file that names `certificate` and `key`; Envoy watches the directory for moves,
        /// so a renewal that renames a new certificate into place is picked up without a restart.
        public static let sds = "node-sds.yaml"
        public static let bootstrap = "envoy.yaml"
        /// What `qpilot enroll --renew` needs: the enrolment URL, node id and fleet.
        public static let enrolment = "enrolment.json"
    }

    /// The SDS secret name of the node's certificate.
    public static let certificateSecret = "qpilot_node"

    public init(
        nodeID: String, fleet: String, xds: HostPort = HostPort(host: "127.0.0.1", port: 18000), replicas: [HostPort] = [],
        delta: Bool = false, adminPort: Int = 9901, maxReceiveBytes: Int = 256 * 1024 * 1024, certificateDirectory: String? = nil
    ) {
        self.replicas = replicas
        self.certificateDirectory = certificateDirectory
        self.nodeID = nodeID
        self.fleet = fleet
        self.xds = xds
        self.delta = delta
        self.adminPort = adminPort
        self.maxReceiveBytes = maxReceiveBytes
    }

    /// Checks the values a user typed.
    public func validate() throws(QpilotError) {
        for (field, value) in [("--node-id", nodeID), ("--fleet", fleet)] {
            guard !value.isEmpty, value.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\"" && $0 != "\\" }) else {
                throw QpilotError(line: nil, field: field, "must be non-empty printable ASCII with no spaces or quotes")
            }
        }
        guard (1...65535).contains(adminPort) else {
            throw QpilotError(line: nil, field: "--admin-port", "a port is between 1 and 65535")
        }
    }

    /// The TLS of the ADS cluster: qpilot's CA, its server name, and the node's certificate from
    /// a watched SDS file. Empty without `certificateDirectory`.
    var transportSocket: String {
        guard let directory = certificateDirectory else { return "" }
        let sni = xds.isIPLiteral ? "" : "\n        sni: \"\(xds.host)\""
        return """
                transport_socket:
                  name: envoy.transport_sockets.tls
                  typed_config:
                    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext\(sni)
                    common_tls_context:
                      alpn_protocols: ["h2"]
                      tls_certificate_sds_secret_configs:
                      - name: \(Self.certificateSecret)
                        sds_config:
                          resource_api_version: V3
                          path_config_source:
                            path: "\(directory)/\(Files.sds)"
                            watched_directory:
                              path: "\(directory)"
                      validation_context:
                        trusted_ca:
                          filename: "\(directory)/\(Files.ca)"
                        # Only qpilot's own server certificate: the CA also signs intercepted names.
                        match_typed_subject_alt_names:
                        - san_type: URI
                          matcher:
                            exact: "\(CertificateAuthority.serverIdentity)"
            """
    }

    /// The SDS file Envoy reads the node's certificate from.
    public static func sdsFile(directory: String) -> String {
        """
        # Written by qpilot; Envoy re-reads it (and the files it names) when one is renamed into \(directory).
        resources:
        - "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
          name: \(certificateSecret)
          tls_certificate:
            certificate_chain:
              filename: "\(directory)/\(Files.certificate)"
            private_key:
              filename: "\(directory)/\(Files.key)"

        """
    }

    /// Every xDS address, `xds` first.
    var endpoints: [HostPort] { [xds] + replicas }

    /// The ADS cluster's `lb_endpoints` entries, at their indentation in the bootstrap.
    var endpointsYAML: String {
        endpoints.map { address in
            """
                    - endpoint:
                        address:
                          socket_address:
                            address: \(address.host)
                            port_value: \(address.port)
            """
        }.joined(separator: "\n")
    }

    /// The bootstrap as YAML.
    public var yaml: String {
        """
            # Envoy bootstrap generated by `qpilot bootstrap`. Everything else comes from qpilot over ADS.
            node:
              id: "\(nodeID)"
              cluster: "\(fleet)"
              metadata:
                qpilot.fleet: "\(fleet)"
            dynamic_resources:
              ads_config:
                api_type: \(delta ? "DELTA_GRPC" : "GRPC")
                transport_api_version: V3
                set_node_on_first_message_only: true
                grpc_services:
                - envoy_grpc:
                    cluster_name: qpilot_xds
                    # Modules travel inline in ECDS resources; the default 4 MiB is too small for many.
                    max_receive_message_length: \(maxReceiveBytes)
              cds_config:
                ads: {}
                resource_api_version: V3
              lds_config:
                ads: {}
                resource_api_version: V3
            static_resources:
              clusters:
              - name: qpilot_xds
                type: \(endpoints.allSatisfy(\.isIPLiteral) ? "STATIC" : "STRICT_DNS")
                connect_timeout: 1s
            \(transportSocket)
                typed_extension_protocol_options:
                  envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
                    "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
                    explicit_http_config:
                      http2_protocol_options:
                        connection_keepalive:
                          interval: 30s
                          timeout: 5s
                load_assignment:
                  cluster_name: qpilot_xds
                  endpoints:
                  - lb_endpoints:
            \(endpointsYAML)
            bootstrap_extensions:
            - name: envoy.bootstrap.internal_listener
              typed_config:
                "@type": type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener
            admin:
              address:
                socket_address:
                  address: 127.0.0.1
                  port_value: \(adminPort)

            """
    }
}
