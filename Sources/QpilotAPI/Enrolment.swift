import Foundation

/// `POST /v1/enrol` on the module port: a node trades a one-time join token and a certificate
/// request (PEM, its key stays on the node) for a client certificate.
public struct EnrolRequest: Codable, Sendable, Equatable {
    public var token: String
    public var nodeID: String
    public var csr: String

    public init(token: String, nodeID: String, csr: String) {
        self.token = token
        self.nodeID = nodeID
        self.csr = csr
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case token, nodeID, csr }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.stringValue), what: "an enrolment request")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        token = try container.decode(String.self, forKey: .token)
        nodeID = try container.decode(String.self, forKey: .nodeID)
        csr = try container.decode(String.self, forKey: .csr)
    }
}

/// `POST /v1/enrol/renew`: the node's current certificate and a request signed by the same key.
public struct RenewRequest: Codable, Sendable, Equatable {
    public var certificate: String
    public var csr: String

    public init(certificate: String, csr: String) {
        self.certificate = certificate
        self.csr = csr
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case certificate, csr }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.stringValue), what: "a renewal request")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        certificate = try container.decode(String.self, forKey: .certificate)
        csr = try container.decode(String.self, forKey: .csr)
    }
}

/// A certificate issued to a node, and what its Envoy needs to reach qpilot's xDS port.
public struct EnrolResponse: Codable, Sendable, Equatable {
    public var nodeID: String
    public var fleet: String
    /// The client certificate, PEM; its URI SAN is `spiffe://qpilot/fleet/F/node/N`.
    public var certificate: String
    /// qpilot's CA, PEM: what the node verifies qpilot's server certificate against.
    public var ca: String
    public var expires: Date
    /// qpilot's xDS port (the host is the one the node enrolled through).
    public var xdsPort: Int

    public init(nodeID: String, fleet: String, certificate: String, ca: String, expires: Date, xdsPort: Int) {
        self.nodeID = nodeID
        self.fleet = fleet
        self.certificate = certificate
        self.ca = ca
        self.expires = expires
        self.xdsPort = xdsPort
    }
}

/// `POST /v1/enrolment/tokens` (admin): a join token for a fleet, and optionally one node id.
public struct TokenRequest: Codable, Sendable, Equatable {
    public var fleet: String
    public var nodeID: String?
    /// How long the token may be used; default 3600, at most 7 days.
    public var ttlSeconds: Int?

    public init(fleet: String, nodeID: String? = nil, ttlSeconds: Int? = nil) {
        self.fleet = fleet
        self.nodeID = nodeID
        self.ttlSeconds = ttlSeconds
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case fleet, nodeID, ttlSeconds }

    public init(from decoder: any Decoder) throws {
        try StrictKeys.check(decoder, allowed: CodingKeys.allCases.map(\.stringValue), what: "a token request")
        let container = try decoder.container(keyedBy: CodingKeys.self)
        fleet = try container.decode(String.self, forKey: .fleet)
        nodeID = try container.decodeIfPresent(String.self, forKey: .nodeID)
        ttlSeconds = try container.decodeIfPresent(Int.self, forKey: .ttlSeconds)
    }
}

/// A join token as listed (never its secret), or just created (`token` set, shown once).
public struct TokenView: Codable, Sendable, Equatable {
    public var id: String
    public var fleet: String
    public var nodeID: String?
    public var created: Date
    public var createdBy: String
    public var expires: Date
    /// The whole token, only in the answer that created it.
    public var token: String?
    /// The SHA-256 of qpilot's CA certificate (hex): `qpilot bootstrap --enroll` checks the
    /// server it enrols with against it.
    public var caSHA256: String
    /// Where nodes enrol: qpilot's module port, as this qpilot knows it (`modules.publicAddress`,
    /// else its listening address); behind a load balancer, use the name nodes reach.
    public var enrolURL: String?

    public init(
        id: String, fleet: String, nodeID: String?, created: Date, createdBy: String, expires: Date, token: String?, caSHA256: String,
        enrolURL: String? = nil
    ) {
        self.enrolURL = enrolURL
        self.id = id
        self.fleet = fleet
        self.nodeID = nodeID
        self.created = created
        self.createdBy = createdBy
        self.expires = expires
        self.token = token
        self.caSHA256 = caSHA256
    }
}

/// `GET /v1/enrolment/tokens`.
public struct TokenList: Codable, Sendable, Equatable {
    public var tokens: [TokenView]
    public init(tokens: [TokenView]) { self.tokens = tokens }
}

/// A node's client certificate, as `qctl status` shows it.
public struct NodeCertificateView: Codable, Sendable, Equatable {
    public var enrolled: Date
    public var renewed: Date
    public var expires: Date
    public var serial: String
    public var revoked: Date?

    public init(enrolled: Date, renewed: Date, expires: Date, serial: String, revoked: Date?) {
        self.enrolled = enrolled
        self.renewed = renewed
        self.expires = expires
        self.serial = serial
        self.revoked = revoked
    }
}

/// `GET /v1/enrolment/nodes`: every node that holds or held a client certificate.
public struct EnrolledNodeList: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var nodeID: String
        public var fleet: String
        public var certificate: NodeCertificateView

        public init(nodeID: String, fleet: String, certificate: NodeCertificateView) {
            self.nodeID = nodeID
            self.fleet = fleet
            self.certificate = certificate
        }
    }

    public var nodes: [Entry]
    public init(nodes: [Entry]) { self.nodes = nodes }
}

/// `POST /v1/nodes/{id}/revoke`.
public struct RevokeResult: Codable, Sendable, Equatable {
    public var nodeID: String
    /// The node's ADS streams that were open and are now ended.
    public var streamsEnded: Int

    public init(nodeID: String, streamsEnded: Int) {
        self.nodeID = nodeID
        self.streamsEnded = streamsEnded
    }
}
