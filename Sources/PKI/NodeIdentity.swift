import Foundation

/// Who an enrolled Envoy is: its fleet and node id, written into its client certificate as the URI
/// SAN `spiffe://qpilot/fleet/<fleet>/node/<node>` (SPIFFE ID syntax: the trust domain `qpilot`,
/// then a path; each segment percent-encoded, since a node id may hold `/` or `~`).
public struct NodeIdentity: Sendable, Hashable, CustomStringConvertible {
    public var fleet: String
    public var node: String

    public init(fleet: String, node: String) {
        self.fleet = fleet
        self.node = node
    }

    public static let trustDomain = "qpilot"

    /// The SPIFFE ID.
    public var uri: String {
        "spiffe://\(Self.trustDomain)/fleet/\(Self.encode(fleet))/node/\(Self.encode(node))"
    }

    /// The identity a SPIFFE ID names, or nil when it is not one of qpilot's.
    public init?(uri: String) {
        let prefix = "spiffe://\(Self.trustDomain)/"
        guard uri.hasPrefix(prefix) else { return nil }
        let segments = uri.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count == 4, segments[0] == "fleet", segments[2] == "node",
            let fleet = String(segments[1]).removingPercentEncoding, let node = String(segments[3]).removingPercentEncoding,
            !fleet.isEmpty, !node.isEmpty
        else { return nil }
        self.init(fleet: fleet, node: node)
    }

    public var description: String { "node \(node) of fleet \(fleet)" }

    /// RFC 3986 unreserved characters stay; every other byte is `%XX`.
    private static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let scalar = Unicode.Scalar(byte)
            if (byte < 0x80) && (CharacterSet.alphanumerics.contains(scalar) || "-._~".unicodeScalars.contains(scalar)) {
                out.unicodeScalars.append(scalar)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
