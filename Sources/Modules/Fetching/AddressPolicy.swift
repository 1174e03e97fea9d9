import Foundation
import NIOPosix
import Synchronization

/// Refuses destinations a module fetch must never reach. Every address a host resolves to is
/// parsed (never compared as text), IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::/96`)
/// forms are unmapped to the IPv4 address they reach, and the result is checked against:
/// - always refused: "this network" 0.0.0.0/8 (0.0.0.0 reaches loopback), link-local
///   169.254.0.0/16 and fe80::/10 (cloud metadata lives there), the metadata addresses
///   100.100.100.200 and fd00:ec2::254, the unspecified ::, multicast and broadcast;
/// - loopback 127.0.0.0/8 and ::1, unless allowed;
/// - private ranges (10/8, 172.16/12, 192.168/16, 100.64/10 shared address space, fc00::/7),
///   unless the host or the address is on the operator's list (`modules.allowPrivate`).
///
/// The fetch then connects to the address that was checked (see HTTPFetcher), never to a second
/// resolution of the name, so a name that answers a public address to the check and a private
/// one to the connect (DNS rebinding) reaches nothing it should not.
enum AddressPolicy {
    static let metadataHostnames: Set<String> = ["metadata.google.internal", "metadata", "instance-data"]

    /// One address: 4 bytes for IPv4, 16 for IPv6.
    struct Address: Equatable, CustomStringConvertible {
        var bytes: [UInt8]

        init?(_ text: String) {
            let bare = text.split(separator: "%", maxSplits: 1).first.map(String.init) ?? text  // drop a zone id
            var v4 = in_addr()
            var v6 = in6_addr()
            if inet_pton(AF_INET, bare, &v4) == 1 {
                bytes = withUnsafeBytes(of: &v4) { Array($0) }
            } else if inet_pton(AF_INET6, bare, &v6) == 1 {
                bytes = withUnsafeBytes(of: &v6) { Array($0) }
            } else {
                return nil
            }
        }

        init(bytes: [UInt8]) { self.bytes = bytes }

        /// The IPv4 address an IPv4-mapped or NAT64 IPv6 address reaches; itself otherwise.
        var unmapped: Address {
            guard bytes.count == 16 else { return self }
            let mapped: [UInt8] = Array(repeating: 0, count: 10) + [0xFF, 0xFF]
            let nat64: [UInt8] = [0x00, 0x64, 0xFF, 0x9B] + Array(repeating: 0, count: 8)
            if Array(bytes[0..<12]) == mapped || Array(bytes[0..<12]) == nat64 { return Address(bytes: Array(bytes[12...])) }
            return self
        }

        func within(_ network: Network) -> Bool {
            guard bytes.count == network.base.count else { return false }
            var remaining = network.prefix
            for (byte, base) in zip(bytes, network.base) where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if byte & mask != base & mask { return false }
                remaining -= bits
            }
            return true
        }

        var description: String {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let family = bytes.count == 4 ? AF_INET : AF_INET6
            _ = bytes.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }
            return String(cString: buffer)
        }
    }

    /// A CIDR block.
    struct Network {
        var base: [UInt8]
        var prefix: Int
        var reason: String

        init(_ cidr: String, _ reason: String) {
            let parts = cidr.split(separator: "/")
            base = Address(String(parts[0]))?.bytes ?? []
            prefix = parts.count > 1 ? Int(parts[1]) ?? 0 : base.count * 8
            self.reason = reason
        }

        /// `10.0.0.0/8`, `10.1.2.3`, `fd00::/8`; nil for anything else.
        init?(parsing text: String) {
            let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let address = Address(String(parts[0])) else { return nil }
            let bits = address.bytes.count * 8
            if parts.count == 2 {
                guard let value = Int(parts[1]), (0...bits).contains(value) else { return nil }
                prefix = value
            } else {
                prefix = bits
            }
            base = address.bytes
            reason = "allowed"
        }
    }

    static let refused: [Network] = [
        Network("0.0.0.0/8", "\"this network\" (0.0.0.0 reaches loopback)"),
        Network("169.254.0.0/16", "link-local, where cloud metadata services live"),
        Network("100.100.100.200/32", "a cloud metadata service"),
        Network("224.0.0.0/4", "multicast"),
        Network("255.255.255.255/32", "broadcast"),
        Network("::/128", "the unspecified address"),
        Network("fe80::/10", "link-local, where cloud metadata services live"),
        Network("fd00:ec2::254/128", "a cloud metadata service"),
        Network("ff00::/8", "multicast"),
    ]

    static let loopback: [Network] = [Network("127.0.0.0/8", "loopback"), Network("::1/128", "loopback")]

    static let privateRanges: [Network] = [
        Network("10.0.0.0/8", "private"), Network("172.16.0.0/12", "private"), Network("192.168.0.0/16", "private"),
        Network("100.64.0.0/10", "shared (carrier-grade NAT)"), Network("fc00::/7", "private (unique local)"),
    ]

    /// Hosts and IP blocks that fetches may reach although they are private (or loopback, where
    /// loopback is refused): `registry.internal`, `*.corp.example`, `10.20.0.0/16`.
    struct AllowList: Sendable {
        var names: [String] = []
        var suffixes: [String] = []
        var networks: [Network] = []

        init(_ entries: [String]) {
            for entry in entries {
                let text = entry.lowercased()
                if text.hasPrefix("*.") {
                    suffixes.append(String(text.dropFirst()))
                } else if let network = Network(parsing: text) {
                    networks.append(network)
                } else {
                    names.append(text)
                }
            }
        }

        func allows(name: String) -> Bool { names.contains(name) || suffixes.contains { name.hasSuffix($0) } }
        func allows(_ address: Address) -> Bool { networks.contains(where: address.within) }
    }

    /// Why `entry` cannot be on the allow-list, or nil when it can: a host name, `*.` and a
    /// domain, or an IP address or block.
    static func problem(allowEntry entry: String) -> String? {
        let text = entry.lowercased()
        if Network(parsing: text) != nil { return nil }
        let name = text.hasPrefix("*.") ? String(text.dropFirst(2)) : text
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let valid = !name.isEmpty && name.count <= 253 && labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
        return valid ? nil : "'\(entry)' is neither a host name (registry.internal, *.corp.example) nor an IP address or block (10.20.0.0/16)"
    }

    /// How long a name may take to resolve before the fetch gives up on it.
    static let resolveTimeout = Duration.seconds(10)

    /// Resolves `host` and checks every address it resolves to. getaddrinfo blocks its thread,
    /// so it runs on NIO's thread pool, never on the tasks that serve xDS and the admin API, and
    /// a name server that does not answer costs the fetch `resolveTimeout`, not the server.
    ///
    /// Returns the address to connect to: the first one the name resolved to, every one of which
    /// passed. A name that resolves to nothing throws.
    static func check(host: String, limits: FetchLimits) async throws(ModuleError) -> String {
        var name = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        while name.hasSuffix(".") { name.removeLast() }  // `metadata.google.internal.` is the same name
        if metadataHostnames.contains(name) {
            throw ModuleError("refusing to fetch from \(host): it is a cloud metadata service")
        }
        let allow = AllowList(limits.allowPrivate)
        let allowedName = allow.allows(name: name)
        let addresses = try await resolveOffPool(name)
        var first: Address?
        for text in addresses {
            guard let address = Address(text)?.unmapped else { continue }
            if let network = refused.first(where: address.within) {
                throw ModuleError("refusing to fetch from \(host) (\(address)): \(network.reason) addresses are not allowed")
            }
            let listed = allowedName || allow.allows(address)
            if !limits.allowLoopback, !listed, let network = loopback.first(where: address.within) {
                throw ModuleError("refusing to fetch from \(host) (\(address)): \(network.reason) addresses are not allowed here")
            }
            if !listed, let network = privateRanges.first(where: address.within) {
                throw ModuleError(
                    "refusing to fetch from \(host) (\(address)): \(network.reason) addresses are reached only when listed; "
                        + "add '\(name)' or its address block to modules.allowPrivate in qpilot.yaml if this source is yours")
            }
            if first == nil { first = address }
        }
        guard let first else { throw ModuleError("cannot resolve \(host): the name has no address") }
        return first.description
    }

    static func resolveOffPool(_ name: String) async throws(ModuleError) -> [String] {
        // getaddrinfo cannot be interrupted, so the lookup runs on its own and the first of it
        // and the deadline to finish answers; a lookup that answers late is dropped.
        let answer = Mutex<CheckedContinuation<[String]?, Never>?>(nil)
        let addresses = await withCheckedContinuation { (continuation: CheckedContinuation<[String]?, Never>) in
            answer.withLock { $0 = continuation }
            let finish: @Sendable ([String]?) -> Void = { result in answer.withLock { $0.take() }?.resume(returning: result) }
            Task { finish(try? await NIOThreadPool.singleton.runIfActive { resolve(name) }) }
            Task {
                try? await Task.sleep(for: resolveTimeout)
                finish(nil)
            }
        }
        guard let addresses else {
            throw ModuleError("cannot resolve \(name): no answer within \(resolveTimeout)")
        }
        return addresses
    }

    /// A host that is loopback by its spelling alone: `localhost`, or an IP literal in a loopback
    /// block (`127.0.0.1`, `::1`, `::ffff:127.0.0.1`). A name such as `127.example.com` is not.
    static func isLoopbackLiteral(_ host: String) -> Bool {
        let bare = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if bare == "localhost" { return true }
        guard let address = Address(bare)?.unmapped else { return false }
        return loopback.contains(where: address.within)
    }

    /// Numeric addresses of `host`; empty when it does not resolve (the fetch then fails by itself).
    static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                addresses.append(String(cString: buffer))
            }
            cursor = info.pointee.ai_next
        }
        return addresses
    }
}
