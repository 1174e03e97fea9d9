import Foundation

/// Refuses destinations a module fetch must never reach: link-local addresses (169.254.0.0/16,
/// fe80::/10), where cloud metadata services live (169.254.169.254, fd00:ec2::254), and, unless
/// allowed, loopback.
enum AddressPolicy {
    static let metadataHostnames: Set<String> = ["metadata.google.internal", "metadata", "instance-data"]

    /// Resolves `host` and checks every address it resolves to.
    static func check(host: String, allowLoopback: Bool) throws(ModuleError) {
        let lower = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if metadataHostnames.contains(lower) {
            throw ModuleError("refusing to fetch from \(host): it is a cloud metadata service")
        }
        for address in resolve(lower) {
            if address.hasPrefix("169.254.") || address.lowercased().hasPrefix("fe80:") || address.lowercased() == "fd00:ec2::254" {
                throw ModuleError("refusing to fetch from \(host) (\(address)): link-local and cloud-metadata addresses are not allowed")
            }
            if !allowLoopback, address.hasPrefix("127.") || address == "::1" {
                throw ModuleError("refusing to fetch from \(host) (\(address)): loopback addresses are not allowed here")
            }
        }
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
