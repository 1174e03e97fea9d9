extension ProxyWasmConformance {
    /// Every export that Envoy looks up and calls must have the signature Envoy calls it with.
    /// Exports Envoy never looks up are allowed (Envoy ignores them); a `proxy_on_*` or
    /// `envoy_on_*` one earns a warning, since it is most likely a misspelt callback or one from
    /// another ABI version.
    mutating func checkCallbacks() {
        let reactor = functionExports["_initialize"] != nil
        for (name, signature) in functionExports.sorted(by: { $0.key < $1.key }) {
            if ProxyWasmABIVersion(marker: name) != nil || name == "malloc" || name == "proxy_on_memory_allocate" {
                continue  // checked with the marker and the allocator
            }
            // Envoy calls `main` only after `_initialize` (a reactor), `_start` only without it.
            if (name == "main" && !reactor) || (name == "_start" && reactor) { continue }
            let lookups = HostTable.callbacks(named: name)
            guard !lookups.isEmpty else {
                if Self.looksLikeCallback(name) { warn("export \(name) is not a callback Envoy knows; Envoy never calls it") }
                continue
            }
            let applicable = version.map { version in lookups.filter { $0.versions.contains(version) } } ?? lookups
            guard !applicable.isEmpty else {
                let versions = Self.versionList(Set(lookups.flatMap(\.versions)))
                warn("export \(name) is a callback of ABI \(versions) only; Envoy never calls it for ABI \(version!)")
                continue
            }
            guard !applicable.contains(where: { $0.signature == signature }) else { continue }
            let expected = Set(applicable.map(\.signature)).map(\.description).sorted().joined(separator: " or ")
            report(ModuleProblem(
                .badCallbackSignature, subject: name,
                "export \(name) has signature \(signature), but Envoy calls it as \(expected)"
                    + (version.map { " for ABI \($0)" } ?? ""),
                envoyError: "Bad function signature for: \(name)"))
        }
    }

    private static func looksLikeCallback(_ name: String) -> Bool {
        name.hasPrefix("proxy_on_") || name.hasPrefix("envoy_on_") || name.hasPrefix("proxy_validate_")
    }
}
