import Crypto
import Foundation
import NIOHTTP1

/// Pulls a Wasm module from an OCI registry through the distribution API: manifest (following an
/// index to linux/amd64 or its only entry), then the module's blob.
///
/// Layouts understood (../shared/DESIGN.md, "Module sources"):
/// - wasm-to-oci: a layer `application/vnd.wasm.content.layer.v1+wasm`;
/// - the CNCF artifact: config `application/vnd.wasm.config.v0+json`, layer `application/wasm`;
/// - solo's "oci" format: a layer `application/vnd.module.wasm.content.layer.v1+wasm`;
/// - the "compat" image: one `tar+gzip` layer holding `plugin.wasm`.
/// Auth: anonymous, basic, and the bearer-token challenge flow (`WWW-Authenticate: Bearer …`).
/// A registry on a loopback address is spoken to over plain HTTP, as docker and skopeo do.
struct OCIClient: Sendable {
    let http: HTTPFetcher
    let credentials: RegistryCredentials

    static let manifestTypes = [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
    static let wasmLayerTypes = [
        "application/vnd.wasm.content.layer.v1+wasm",
        "application/wasm",
        "application/vnd.module.wasm.content.layer.v1+wasm",
    ]
    static let tarGzipLayerTypes = [
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ]

    struct Pulled: Sendable {
        var bytes: Data
        /// The manifest's digest: what a tag resolved to.
        var manifestDigest: String
        /// Which layout the image used.
        var layout: String
    }

    struct Descriptor: Decodable {
        var mediaType: String?
        var digest: String
        var size: Int?
        var platform: Platform?
        struct Platform: Decodable {
            var os: String?
            var architecture: String?
        }
    }

    struct Manifest: Decodable {
        var mediaType: String?
        var config: Descriptor?
        var layers: [Descriptor]?
        var manifests: [Descriptor]?
    }

    func pull(_ reference: OCIReference, progress: HTTPFetcher.Progress?) async throws(ModuleError) -> Pulled {
        let session = try Session(client: self, reference: reference)
        var (manifest, digest, raw) = try await session.manifest(reference.reference)
        if let pinned = reference.digest, pinned != digest {
            throw ModuleError("oci://\(reference): the registry returned manifest \(digest), not the pinned \(pinned)")
        }
        if let entries = manifest.manifests {
            let chosen = entries.first { $0.platform?.os == "linux" && $0.platform?.architecture == "amd64" }
                ?? (entries.count == 1 ? entries[0] : nil)
            guard let chosen else {
                throw ModuleError("oci://\(reference) is an index with \(entries.count) entries and none for linux/amd64")
            }
            (manifest, _, raw) = try await session.manifest(chosen.digest)
            _ = raw
        }
        let layers = manifest.layers ?? []
        if let layer = layers.first(where: { Self.wasmLayerTypes.contains($0.mediaType ?? "") }) {
            let bytes = try await session.blob(layer, progress: progress)
            let layout = switch layer.mediaType {
            case "application/wasm": "cncf"
            case "application/vnd.module.wasm.content.layer.v1+wasm": "solo-oci"
            default: "wasm-to-oci"
            }
            return Pulled(bytes: bytes, manifestDigest: digest, layout: layout)
        }
        let tarLayers = layers.filter { Self.tarGzipLayerTypes.contains($0.mediaType ?? "") }
        if tarLayers.count == 1 {
            let archive = try await session.blob(tarLayers[0], progress: progress)
            let bytes = try Archive.module(fromTarGz: archive, limits: http.limits, origin: "oci://\(reference)")
            return Pulled(bytes: bytes, manifestDigest: digest, layout: "compat")
        }
        let kinds = layers.compactMap(\.mediaType).joined(separator: ", ")
        throw ModuleError(
            "oci://\(reference) holds no Wasm module: its layers are [\(kinds)]; expected a Wasm layer "
                + "(\(Self.wasmLayerTypes.joined(separator: ", "))) or one tar+gzip layer with plugin.wasm")
    }

    /// One pull's conversation with a registry, keeping the bearer token it earns.
    final class Session: @unchecked Sendable {
        let client: OCIClient
        let reference: OCIReference
        var authorization: String?
        let base: URL

        init(client: OCIClient, reference: OCIReference) throws(ModuleError) {
            self.client = client
            self.reference = reference
            // Plain http only for a registry on this machine, by its spelling: never for a name.
            let loopback = AddressPolicy.isLoopbackLiteral(Self.host(of: reference.registry))
            // The reference was checked by its grammar; a URL that still does not form is refused, not trapped on.
            guard let base = URL(string: "\(loopback ? "http" : "https")://\(reference.registry)/v2/\(reference.repository)/") else {
                throw ModuleError("oci://\(reference) does not form a registry URL")
            }
            self.base = base
            if let login = client.credentials.login(for: reference.registry) {
                authorization = "Basic " + Data("\(login.username):\(login.password)".utf8).base64EncodedString()
            }
        }

        func manifest(_ ref: String) async throws(ModuleError) -> (Manifest, String, Data) {
            let url = base.appendingPathComponent("manifests/\(ref)")
            let result = try await get(url, accept: OCIClient.manifestTypes.joined(separator: ", "), maxBytes: 4 * 1024 * 1024, progress: nil)
            let digest = "sha256:" + LoadedModule.hex(SHA256.hash(data: result.body))
            if ref.hasPrefix("sha256:"), ref != digest {
                throw ModuleError("oci://\(reference): manifest \(ref) has digest \(digest); the registry sent the wrong bytes")
            }
            do {
                return (try JSONDecoder().decode(Manifest.self, from: result.body), digest, result.body)
            } catch {
                throw ModuleError("oci://\(reference): the manifest is not valid JSON: \(error)")
            }
        }

        func blob(_ descriptor: Descriptor, progress: HTTPFetcher.Progress?) async throws(ModuleError) -> Data {
            if let size = descriptor.size, size > client.http.limits.maxModuleBytes {
                throw ModuleError(
                    "oci://\(reference): the module layer is \(size) bytes, over the limit of \(client.http.limits.maxModuleBytes)")
            }
            let url = base.appendingPathComponent("blobs/\(descriptor.digest)")
            let result = try await get(url, accept: "*/*", maxBytes: client.http.limits.maxModuleBytes, progress: progress)
            let digest = "sha256:" + LoadedModule.hex(SHA256.hash(data: result.body))
            guard digest == descriptor.digest else {
                throw ModuleError("oci://\(reference): blob \(descriptor.digest) arrived with digest \(digest); refusing it")
            }
            return result.body
        }

        private func get(_ url: URL, accept: String, maxBytes: Int, progress: HTTPFetcher.Progress?) async throws(ModuleError)
            -> HTTPFetcher.Result
        {
            var result = try await client.http.get(url, headers: headers(accept), maxBytes: maxBytes, progress: progress)
            if result.status == 401, let challenge = result.headers.first(name: "www-authenticate") {
                try await answer(challenge)
                result = try await client.http.get(url, headers: headers(accept), maxBytes: maxBytes, progress: progress)
            }
            switch result.status {
            case 200..<300:
                return result
            case 401, 403:
                let hint = client.credentials.login(for: reference.registry) == nil
                    ? "; no credentials are configured for \(reference.registry)" : "; check the credentials for \(reference.registry)"
                throw ModuleError("oci://\(reference): the registry refused access (HTTP \(result.status))\(hint)")
            case 404:
                throw ModuleError("oci://\(reference): not found in the registry (HTTP 404 for \(url.lastPathComponent))")
            default:
                throw ModuleError("oci://\(reference): the registry answered HTTP \(result.status) for \(url.absoluteString)")
            }
        }

        private func headers(_ accept: String) -> [(String, String)] {
            var headers = [("Accept", accept)]
            if let authorization { headers.append(("Authorization", authorization)) }
            return headers
        }

        /// Handles `Basic` and `Bearer realm=…,service=…,scope=…` challenges.
        private func answer(_ challenge: String) async throws(ModuleError) {
            let login = client.credentials.login(for: reference.registry)
            let basic = login.map { "Basic " + Data("\($0.username):\($0.password)".utf8).base64EncodedString() }
            if challenge.lowercased().hasPrefix("basic") {
                guard let basic else {
                    throw ModuleError("oci://\(reference): the registry needs a login; no credentials are configured for \(reference.registry)")
                }
                authorization = basic
                return
            }
            guard challenge.lowercased().hasPrefix("bearer") else {
                throw ModuleError("oci://\(reference): unsupported auth challenge '\(challenge)'")
            }
            let parameters = Self.parameters(String(challenge.dropFirst("bearer".count)))
            guard let realm = parameters["realm"], var components = URLComponents(string: realm) else {
                throw ModuleError("oci://\(reference): the bearer challenge has no realm")
            }
            var query = components.queryItems ?? []
            if let service = parameters["service"] { query.append(URLQueryItem(name: "service", value: service)) }
            query.append(URLQueryItem(name: "scope", value: parameters["scope"] ?? "repository:\(reference.repository):pull"))
            components.queryItems = query
            guard let tokenURL = components.url else { throw ModuleError("oci://\(reference): the token realm '\(realm)' is not a URL") }
            var headers: [(String, String)] = []
            var withheld = ""
            if let basic {
                if let reason = Self.refusesCredentials(realm: tokenURL, registry: reference.registry) {
                    // Anonymous, then: the token service may still grant a pull of a public image.
                    withheld = "; the credentials for \(reference.registry) were not sent to \(realm): \(reason)"
                } else {
                    headers.append(("Authorization", basic))
                }
            }
            let result = try await client.http.get(tokenURL, headers: headers, maxBytes: 1024 * 1024)
            guard (200..<300).contains(result.status) else {
                let hint = login == nil
                    ? "; no credentials are configured for \(reference.registry)"
                    : withheld.isEmpty ? "; check the credentials for \(reference.registry)" : withheld
                throw ModuleError("oci://\(reference): the token service at \(realm) refused (HTTP \(result.status))\(hint)")
            }
            struct Token: Decodable {
                var token: String?
                var access_token: String?
            }
            guard let token = try? JSONDecoder().decode(Token.self, from: result.body), let value = token.token ?? token.access_token else {
                throw ModuleError("oci://\(reference): the token service at \(realm) sent no token")
            }
            authorization = "Bearer \(value)"
        }

        /// Why a registry's login may not go to this token realm, or nil when it may. A registry
        /// names its token service, so a registry (or whoever answers in its name) could send the
        /// login anywhere: it goes only over https (plain http on loopback, as the registry itself),
        /// and only to the registry's host or a host of the same parent domain (Docker Hub's
        /// registry-1.docker.io names auth.docker.io).
        static func refusesCredentials(realm: URL, registry: String) -> String? {
            guard let host = realm.host?.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]")) else {
                return "the realm has no host"
            }
            let registryHost = Self.host(of: registry)
            switch realm.scheme?.lowercased() {
            case "https": break
            case "http" where AddressPolicy.isLoopbackLiteral(host) && AddressPolicy.isLoopbackLiteral(registryHost): break
            default: return "it is not https"
            }
            if host == registryHost { return nil }
            let labels = registryHost.split(separator: ".")
            if labels.count >= 3, host.hasSuffix("." + labels.dropFirst().joined(separator: ".")) { return nil }
            return "it is not the registry's host (\(registryHost)) or a host of its domain"
        }

        /// `host` of `host[:port]` or `[v6]:port`, lowercased.
        static func host(of registry: String) -> String {
            let lower = registry.lowercased()
            if lower.hasPrefix("[") { return String(lower.dropFirst().prefix { $0 != "]" }) }
            return String(lower.split(separator: ":").first ?? Substring(lower))
        }

        /// `key="value",key2="value2"`.
        static func parameters(_ text: String) -> [String: String] {
            var result: [String: String] = [:]
            let pattern = #/([A-Za-z_]+)="([^"]*)"/#
            for match in text.matches(of: pattern) { result[String(match.1)] = String(match.2) }
            return result
        }
    }
}
