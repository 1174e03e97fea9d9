/// `host[:port]/repository[:tag][@sha256:<hex>]`, as in `oci://ghcr.io/acme/pii-guard:1.2`.
public struct OCIReference: Sendable, Equatable, CustomStringConvertible {
    /// `host` or `host:port`.
    public var registry: String
    public var repository: String
    public var tag: String?
    /// `sha256:<hex>`, when the reference pins one.
    public var digest: String?

    public init(registry: String, repository: String, tag: String?, digest: String?) {
        self.registry = registry
        self.repository = repository
        self.tag = tag
        self.digest = digest
    }

    public init(parsing text: String) throws(ModuleError) {
        var rest = Substring(text)
        var digest: String?
        if let at = rest.firstIndex(of: "@") {
            digest = String(rest[rest.index(after: at)...])
            rest = rest[..<at]
            guard let value = digest, value.hasPrefix("sha256:"), ModuleStore.isDigest(String(value.dropFirst(7))) else {
                throw ModuleError("'oci://\(text)': a digest is sha256: followed by 64 lowercase hex digits")
            }
        }
        guard let slash = rest.firstIndex(of: "/") else {
            throw ModuleError("'oci://\(text)' needs a registry and a repository, such as oci://ghcr.io/acme/module:1.0")
        }
        let registry = String(rest[..<slash])
        guard Self.isRegistry(registry) else {
            throw ModuleError(
                "'oci://\(text)': '\(registry)' is not a registry: a host name or IP address, with an optional :port (such as ghcr.io or 127.0.0.1:5000)")
        }
        var repository = rest[rest.index(after: slash)...]
        var tag: String?
        if let colon = repository.lastIndex(of: ":") {
            tag = String(repository[repository.index(after: colon)...])
            repository = repository[..<colon]
        }
        guard !registry.isEmpty, !repository.isEmpty,
            repository.allSatisfy({ $0.isLowercase || $0.isNumber || "._-/".contains($0) }),
            !repository.split(separator: "/").contains(where: { $0 == ".." || $0 == "." || $0.isEmpty })
        else {
            throw ModuleError("'oci://\(text)': a repository is lowercase letters, digits and . _ - / separators")
        }
        if let tag {
            guard !tag.isEmpty, tag.count <= 128, tag.allSatisfy({ $0.isLetter || $0.isNumber || "._-".contains($0) }) else {
                throw ModuleError("'oci://\(text)': '\(tag)' is not a valid tag")
            }
        }
        if tag == nil, digest == nil { tag = "latest" }
        self.init(registry: registry, repository: String(repository), tag: tag, digest: digest)
    }

    /// `host[:port]` by the distribution reference grammar: DNS labels of letters, digits and '-'
    /// joined by '.', or a bracketed IPv6 address; a port of 1 to 65535.
    static func isRegistry(_ text: String) -> Bool {
        var host = Substring(text)
        var port: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            let address = host[host.index(after: host.startIndex)..<close]
            guard !address.isEmpty, address.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
            let after = host[host.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return false }
                port = after.dropFirst()
            }
            host = address
        } else {
            if let colon = host.lastIndex(of: ":") {
                port = host[host.index(after: colon)...]
                host = host[..<colon]
            }
            let labels = host.split(separator: ".", omittingEmptySubsequences: false)
            guard !host.isEmpty, host.count <= 253,
                labels.allSatisfy({ label in
                    !label.isEmpty && label.count <= 63 && label.first != "-" && label.last != "-"
                        && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
                })
            else { return false }
        }
        if let port {
            guard let number = Int(port), port.allSatisfy(\.isNumber), (1...65535).contains(number) else { return false }
        }
        return true
    }

    /// The tag or digest to ask the registry for; the digest wins.
    public var reference: String { digest ?? tag ?? "latest" }

    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }
}
