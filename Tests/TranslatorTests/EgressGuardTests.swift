import EnvoyAPI
import Foundation
import QpilotAPI
import QpilotTestSupport
import SwiftProtobuf
import Testing
import Translator

/// The RBAC filter that keeps egress and callout requests away from internal destinations. What
/// Envoy does with it is shown by EgressGuardTests in IntegrationTests; these pin the config.
@Suite("Egress guard")
struct EgressGuardTests {
    typealias Permission = Envoy_Config_Rbac_V3_Permission
    typealias Matcher = Envoy_Extensions_Rbac_Matchers_UpstreamIpPort_V3_UpstreamIpPortMatcher

    /// The guard of `listener`: the RBAC filter right after the forward proxy, which must save
    /// the address it resolved for the guard to read.
    static func guardRules(_ resources: EnvoyResources, _ listener: String) throws -> Envoy_Config_Rbac_V3_RBAC {
        let filters = try resources.hcm(listener).httpFilters
        let proxy = try #require(filters.first)
        #expect(try Envoy_Extensions_Filters_Http_DynamicForwardProxy_V3_FilterConfig(unpackingAny: proxy.typedConfig).saveUpstreamAddress)
        #expect(filters.count > 1 && filters[1].name == "envoy.filters.http.rbac")
        return try RBACFilter(unpackingAny: filters[1].typedConfig).rules
    }

    static func blocks(_ permissions: [Permission]) throws -> [String] {
        try permissions.map { permission in
            let matcher = try Matcher(unpackingAny: permission.matcher.typedConfig)
            #expect(permission.matcher.name == "envoy.rbac.matchers.upstream_ip_port")
            let ports = matcher.hasUpstreamPortRange ? ":\(matcher.upstreamPortRange.start)-\(matcher.upstreamPortRange.end)" : ""
            return "\(matcher.upstreamIp.addressPrefix)/\(matcher.upstreamIp.prefixLen.value)\(ports)"
        }
    }

    @Test("by default both listeners deny loopback, 'this network', link-local and metadata destinations to anyone")
    func denyByDefault() throws {
        let resources = Translator.translate(Samples.desiredState(), for: .everyOther)
        for listener in [Names.egressListener, Names.calloutListener] {
            let rules = try Self.guardRules(resources, listener)
            #expect(rules.action == .deny)
            let policy = try #require(rules.policies["internal-destination"])
            #expect(policy.principals.map(\.any) == [true])
            let denied = try Self.blocks(try #require(policy.permissions.only).orRules.rules)
            for block in ["127.0.0.0/8", "0.0.0.0/8", "169.254.0.0/16", "100.100.100.200/32", "::1/128", "fe80::/10", "::ffff:0.0.0.0/96"] {
                #expect(denied.contains(block), "\(listener) lets \(block) through")
            }
        }
    }

    @Test("an allowed destination is carved out of the denied blocks, port range included (inclusive in Envoy's matcher)")
    func allowList() throws {
        var state = Samples.desiredState()
        state.egress.allowInternal = [
            try InternalDestination(parsing: "127.0.0.1:18080"), try InternalDestination(parsing: "[::1]:8000-8099"),
            try InternalDestination(parsing: "169.254.169.254"),
        ]
        let resources = Translator.translate(state, for: .everyOther)
        for listener in [Names.egressListener, Names.calloutListener] {
            let rule = try #require(try Self.guardRules(resources, listener).policies["internal-destination"]?.permissions.only)
            let parts = rule.andRules.rules
            #expect(parts.count == 2)
            #expect(try Self.blocks(parts[0].orRules.rules).contains("127.0.0.0/8"))
            #expect(try Self.blocks(parts[1].notRule.orRules.rules) == [
                "127.0.0.1/32:18080-18080", "::1/128:8000-8099", "169.254.169.254/32",
            ])
        }
    }

    @Test("allowInternal entries parse as IP blocks with optional ports and print back as written")
    func parsing() throws {
        for text in ["127.0.0.1:18080", "10.0.0.0/8", "[::1]:8000-8099", "::1", "fe80::/10", "[fd00::/8]:443", "169.254.169.254"] {
            #expect(try InternalDestination(parsing: text).description == text)
        }
        let parsed = try InternalDestination(parsing: "127.0.0.0/8:1-1024")
        #expect(parsed == InternalDestination(address: "127.0.0.0", prefixLength: 8, ports: 1...1024))
    }

    @Test(
        "a bad allowInternal entry is refused with what to write instead",
        arguments: [
            ("localhost:9901", "is not an IP address"), ("127.0.0.1:0", "is not a port"), ("127.0.0.1:99999", "is not a port"),
            ("10.0.0.0/33", "prefix length must be a number from 0 to 32"), ("[::1:80", "without its ']'"),
            ("127.0.0.1:90-80", "is not a port"), ("", "is not an IP address"),
        ])
    func refused(text: String, message: String) {
        let error = #expect(throws: InternalDestinationError.self) { try InternalDestination(parsing: text) }
        #expect(error?.description.contains(message) == true, "\(text): \(String(describing: error))")
        #expect(error?.description.contains("such as") == true || message.contains("prefix"), "says what to write instead")
    }
}
