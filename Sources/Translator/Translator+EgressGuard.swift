import EnvoyAPI
import Foundation
import SwiftProtobuf

/// A destination the egress and callout listeners may reach although it is internal: an IP block
/// (`127.0.0.1`, `10.0.0.0/8`, `::1`) with an optional port or port range
/// (`127.0.0.1:18080`, `[::1]:8000-8099`).
public struct InternalDestination: Sendable, Equatable, CustomStringConvertible {
    public var address: String
    public var prefixLength: Int
    public var ports: ClosedRange<Int>?

    public init(address: String, prefixLength: Int, ports: ClosedRange<Int>? = nil) {
        self.address = address
        self.prefixLength = prefixLength
        self.ports = ports
    }

    /// Parses what an operator writes. The message of the error says what form is expected.
    public init(parsing text: String) throws(InternalDestinationError) {
        let usage = "write an IP address or block with an optional port, such as 127.0.0.1:18080, 10.0.0.0/8 or [::1]:8000-8099"
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw InternalDestinationError("'\(text)': a '[' without its ']'; \(usage)") }
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw InternalDestinationError("'\(text)': \(usage)") }
                portText = after.dropFirst()
            }
            rest = rest[rest.index(after: rest.startIndex)..<close]
        } else if rest.filter({ $0 == ":" }).count == 1, let colon = rest.firstIndex(of: ":") {
            portText = rest[rest.index(after: colon)...]
            rest = rest[..<colon]
        }
        let parts = rest.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let ip = String(parts[0])
        let bits: Int
        if Self.parses(ip, family: AF_INET) {
            bits = 32
        } else if Self.parses(ip, family: AF_INET6) {
            bits = 128
        } else {
            throw InternalDestinationError("'\(text)': '\(ip)' is not an IP address (names are not allowed: they resolve to other addresses over time); \(usage)")
        }
        var prefix = bits
        if parts.count == 2 {
            guard let value = Int(parts[1]), (0...bits).contains(value) else {
                throw InternalDestinationError("'\(text)': the prefix length must be a number from 0 to \(bits)")
            }
            prefix = value
        }
        var ports: ClosedRange<Int>?
        if let portText {
            let bounds = portText.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { Int($0) }
            guard let low = bounds.first ?? nil, (1...65535).contains(low) else {
                throw InternalDestinationError("'\(text)': '\(portText)' is not a port (1 to 65535) or a range such as 8000-8099")
            }
            let high = bounds.count == 2 ? bounds[1] : low
            guard let high, (low...65535).contains(high) else {
                throw InternalDestinationError("'\(text)': '\(portText)' is not a port (1 to 65535) or a range such as 8000-8099")
            }
            ports = low...high
        }
        self.init(address: ip, prefixLength: prefix, ports: ports)
    }

    public var description: String {
        let isV6 = address.contains(":")
        let block = prefixLength == (isV6 ? 128 : 32) ? address : "\(address)/\(prefixLength)"
        guard let ports else { return block }
        let portText = ports.count == 1 ? "\(ports.lowerBound)" : "\(ports.lowerBound)-\(ports.upperBound)"
        return isV6 ? "[\(block)]:\(portText)" : "\(block):\(portText)"
    }

    private static func parses(_ text: String, family: Int32) -> Bool {
        var buffer = [UInt8](repeating: 0, count: 16)
        return inet_pton(family, text, &buffer) == 1
    }
}

public struct InternalDestinationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension Translator {
    /// Destinations no request through the egress or callout listener reaches unless the
    /// operator allows them (`egress.allowInternal`): Envoy's own admin port and every local
    /// service (loopback, and "this network", which reaches it), cloud metadata services
    /// (link-local, and the fixed metadata addresses), and the IPv4-mapped and NAT64 spellings of
    /// those IPv4 blocks.
    public static let internalDestinations: [(block: String, prefix: Int)] = [
        ("127.0.0.0", 8), ("0.0.0.0", 8), ("169.254.0.0", 16), ("100.100.100.200", 32),
        ("::1", 128), ("::", 128), ("fe80::", 10), ("fd00:ec2::254", 128),
        ("::ffff:0.0.0.0", 96),  // every IPv4-mapped address: a client has no reason to spell one
        ("64:ff9b::7f00:0", 104), ("64:ff9b::", 104), ("64:ff9b::a9fe:0", 112), ("64:ff9b::6464:64c8", 128),
    ]

    /// The guard's name in the HTTP filter chain.
    static let egressGuardFilterName = "envoy.filters.http.rbac"

    /// The RBAC filter that refuses internal destinations with 403, placed right after the
    /// dynamic forward proxy filter: that filter resolves the host and, with
    /// `save_upstream_address`, leaves the address it resolved (the one the cluster connects to,
    /// from the same DNS cache) in filter state, where the `upstream_ip_port` matcher reads it.
    /// So a name that resolves to 127.0.0.1 is refused like the literal, for plain requests and
    /// CONNECT alike, and no middleware runs on a refused request.
    ///
    /// Verified on Envoy 1.40 with a static config: 127.0.0.1:9901 (admin), localhost:9901 and
    /// 169.254.169.254 got 403, CONNECT to the admin port too, an allowed 127.0.0.1:18080 got
    /// 200. The matcher's port range includes its `end` (`port <= end`), although Int64Range
    /// is documented as half-open, so one port is `start == end`.
    static func egressGuardFilter(allow: [InternalDestination]) -> HttpFilter {
        let inside = Permission.or(internalDestinations.map { Permission.upstream(ip: $0.block, prefix: $0.prefix) })
        var rule = inside
        if !allow.isEmpty {
            let allowed = Permission.or(allow.map { Permission.upstream(ip: $0.address, prefix: $0.prefixLength, ports: $0.ports) })
            var not = Envoy_Config_Rbac_V3_Permission()
            not.notRule = allowed
            rule = Permission.and([inside, not])
        }
        var anyone = Envoy_Config_Rbac_V3_Principal()
        anyone.any = true
        var policy = Envoy_Config_Rbac_V3_Policy()
        policy.permissions = [rule]
        policy.principals = [anyone]
        var rules = Envoy_Config_Rbac_V3_RBAC()
        rules.action = .deny
        rules.policies = ["internal-destination": policy]
        var rbac = RBACFilter()
        rbac.rules = rules
        return httpFilter(egressGuardFilterName, rbac)
    }
}

private typealias Permission = Envoy_Config_Rbac_V3_Permission

extension Envoy_Config_Rbac_V3_Permission {
    fileprivate static func upstream(ip: String, prefix: Int, ports: ClosedRange<Int>? = nil) -> Self {
        var block = Envoy_Config_Core_V3_CidrRange()
        block.addressPrefix = ip
        block.prefixLen = Google_Protobuf_UInt32Value(UInt32(prefix))
        var matcher = Envoy_Extensions_Rbac_Matchers_UpstreamIpPort_V3_UpstreamIpPortMatcher()
        matcher.upstreamIp = block
        if let ports {
            var range = Envoy_Type_V3_Int64Range()
            range.start = Int64(ports.lowerBound)
            range.end = Int64(ports.upperBound)  // inclusive in this matcher
            matcher.upstreamPortRange = range
        }
        var config = Envoy_Config_Core_V3_TypedExtensionConfig()
        config.name = "envoy.rbac.matchers.upstream_ip_port"
        config.typedConfig = pack(matcher)
        var permission = Self()
        permission.matcher = config
        return permission
    }

    fileprivate static func or(_ rules: [Self]) -> Self {
        var permission = Self()
        permission.orRules = Set(rules)
        return permission
    }

    fileprivate static func and(_ rules: [Self]) -> Self {
        var permission = Self()
        permission.andRules = Set(rules)
        return permission
    }
}

extension Envoy_Config_Rbac_V3_Permission.Set {
    fileprivate init(_ rules: [Envoy_Config_Rbac_V3_Permission]) {
        self.init()
        self.rules = rules
    }
}
