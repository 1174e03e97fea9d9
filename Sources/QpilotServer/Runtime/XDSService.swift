import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import PKI
import ServiceLifecycle
import XDS

/// The gRPC server for ADS as a lifecycle `Service`.
public struct XDSService: Service {
    let server: GRPCServer<HTTP2ServerTransport.Posix>
    let discovery: AggregatedDiscoveryServer

    /// - Parameter tls: with a certificate, the port speaks TLS only and every client must present
    ///   a certificate that qpilot's CA issued (mTLS); without, plaintext.
    public init(
        address: HostPort, maxReceiveBytes: Int, discovery: AggregatedDiscoveryServer, tls: ServerCertificate? = nil,
        logger: Logger = Logger(label: "qpilot")
    ) throws {
        let socket: GRPCNIOTransportCore.SocketAddress =
            address.host.contains(":") ? .ipv6(host: address.host, port: address.port) : .ipv4(host: address.host, port: address.port)
        var security = HTTP2ServerTransport.Posix.TransportSecurity.plaintext
        if let tls {
            let roots: [TLSConfig.CertificateSource] = [.bytes(Array(tls.authority.pem.utf8), format: .pem)]
            security = try .mTLS(certificateReloader: tls) { config in
                config.trustRoots = .certificates(roots)
                // A client certificate is required and must chain to qpilot's CA; which node it
                // names is checked per stream (CertificateAdmission).
                config.clientCertificateVerification = .noHostnameVerification
            }
        }
        let transport = HTTP2ServerTransport.Posix(
            address: socket,
            transportSecurity: security,
            config: .defaults { config in
                config.rpc.maxRequestPayloadSize = maxReceiveBytes
                // Every Envoy holds one ADS stream open; a connection with none is not an Envoy at
                // work, and may not keep a descriptor forever.
                config.connection.maxIdleTime = .seconds(300)
                // A peer that vanished without closing (a host gone, a cable pulled) is noticed.
                config.connection.keepalive.time = .seconds(60)
                config.connection.keepalive.timeout = .seconds(20)
                config.http2.maxConcurrentStreams = 256
                if tls != nil {
                    // A client that does not speak TLS is told so, in words (PlaintextProbe).
                    config.channelDebuggingCallbacks.onAcceptTCPConnection = { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(PlaintextProbe(logger: logger), position: .first)
                        }
                    }
                }
            })
        server = GRPCServer(transport: transport, services: [discovery])
        self.discovery = discovery
    }

    /// The bound address, once listening (port 0 picks a free one).
    public var listeningPort: Int? {
        get async {
            guard let address = try? await server.listeningAddress else { return nil }
            return address.ipv4?.port ?? address.ipv6?.port
        }
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await server.serve()
        } onGracefulShutdown: {
            // Stop accepting streams, then end the open ones: the server returns once they have.
            server.beginGracefulShutdown()
            discovery.endAllStreams()
        }
    }
}
