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

    /// The tag or digest to ask the registry for; the digest wins.
    public var reference: String { digest ?? tag ?? "latest" }

    public var description: String {
        var text = "\(registry)/\(repository)"
        if let tag { text += ":\(tag)" }
        if let digest { text += "@\(digest)" }
        return text
    }
}
