import Crypto
import Foundation

/// Debian's docker-registry (the CNCF distribution registry) on loopback, with its own config:
/// anonymous, htpasswd (basic) or token auth. Images are pushed with skopeo, as a user would.
final class Registry: @unchecked Sendable {
    enum Auth {
        case anonymous, basic, token
        /// Token auth whose realm names another host than the registry's (localhost for 127.0.0.1).
        case tokenElsewhere
    }

    static let user = "qpilot"
    static let password = "s3cret-pass"

    let directory: URL
    let port: Int
    let auth: Auth
    private var children: [ChildProcess] = []

    init(auth: Auth) async throws {
        self.auth = auth
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try freePort()
        var authSection = ""
        switch auth {
        case .anonymous:
            break
        case .basic:
            let htpasswd = directory.appendingPathComponent("htpasswd")
            let line = try run("/usr/bin/htpasswd", ["-Bbn", Self.user, Self.password])
            try line.write(to: htpasswd, atomically: true, encoding: .utf8)
            authSection = """
                auth:
                  htpasswd:
                    realm: qpilot-test
                    path: \(htpasswd.path)
                """
        case .token, .tokenElsewhere:
            let tokenPort = try freePort()
            let cert = directory.appendingPathComponent("token.crt")
            let server = try ChildProcess(
                "/usr/bin/python3",
                [Paths.repository.appendingPathComponent("Tests/Fixtures/token-server.py").path, String(tokenPort), cert.path, Self.user, Self.password],
                log: directory.appendingPathComponent("token.log"))
            children.append(server)
            try await eventually("the token server") { FileManager.default.fileExists(atPath: cert.path) && server.log.contains("listening") }
            authSection = """
                auth:
                  token:
                    realm: http://\(auth == .tokenElsewhere ? "localhost" : "127.0.0.1"):\(tokenPort)/token
                    service: qpilot-test-registry
                    issuer: qpilot-test-issuer
                    rootcertbundle: \(cert.path)
                """
        }
        let config = """
            version: 0.1
            log:
              level: warn
            storage:
              filesystem:
                rootdirectory: \(directory.appendingPathComponent("data").path)
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:\(port)
            \(authSection)

            """
        let configURL = directory.appendingPathComponent("config.yml")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        try await startServer()
    }

    private var server: ChildProcess?

    /// Starts (or restarts) the registry process on the same port and storage.
    func startServer() async throws {
        let configURL = directory.appendingPathComponent("config.yml")
        let registry = try ChildProcess(
            "/usr/bin/docker-registry", ["serve", configURL.path], log: directory.appendingPathComponent("registry-\(UUID().uuidString).log"))
        server = registry
        let port = self.port
        try await eventually("the registry on \(port)") {
            guard registry.process.isRunning else { throw HarnessError.failed("registry exited: \(registry.log)") }
            return ((try? curl(["http://127.0.0.1:\(port)/v2/"], timeout: 2))?.status ?? 0) > 0
        }
    }

    /// Stops the registry process, as an outage would.
    func stopServer() {
        server?.stop(grace: 0)
        server = nil
    }

    var host: String { "127.0.0.1:\(port)" }

    /// Pushes an OCI layout directory's `tag` to `repository:tag` with skopeo.
    func push(layout: URL, tag: String, repository: String, all: Bool = false) throws {
        var arguments = ["copy", "--quiet", "--dest-tls-verify=false"]
        if all { arguments.append("--all") }
        if auth != .anonymous { arguments += ["--dest-creds", "\(Self.user):\(Self.password)"] }
        arguments += ["oci:\(layout.path):\(tag)", "docker://\(host)/\(repository):\(tag)"]
        _ = try run("/usr/bin/skopeo", arguments)
    }

    /// A docker config.json with this registry's login.
    func credentialsFile() throws -> URL {
        let auth = Data("\(Self.user):\(Self.password)".utf8).base64EncodedString()
        let url = directory.appendingPathComponent("docker-config.json")
        try #"{"auths": {"\#(host)": {"auth": "\#(auth)"}}}"#.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func stop() {
        stopServer()
        for child in children.reversed() { child.stop(grace: 0) }
    }
}

/// Runs a command to completion and returns its standard output; throws with its stderr on failure.
@discardableResult
func run(_ executable: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let output = out.fileHandleForReading.readDataToEndOfFile()
    let errors = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw HarnessError.failed("\(executable) \(arguments.joined(separator: " ")): \(String(decoding: errors, as: UTF8.self))")
    }
    return String(decoding: output, as: UTF8.self)
}

/// Writes OCI image layouts (image-spec `image-layout.md`) holding a Wasm module in each of the
/// four layouts qpilot understands, for skopeo to push.
enum OCILayout {
    enum Kind: String, CaseIterable, Sendable {
        case wasmToOCI = "wasm-to-oci"
        case cncf
        case soloOCI = "solo-oci"
        case compat
    }

    struct Blob {
        var mediaType: String
        var data: Data
        var digest: String { "sha256:" + SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }
        var descriptor: [String: Any] { ["mediaType": mediaType, "digest": digest, "size": data.count] }
    }

    /// Writes a layout at `directory` whose `tag` is an image of `module` in the given layout;
    /// with `index`, the tag is an image index with a linux/arm64 decoy and the linux/amd64 image.
    static func write(module: Data, kind: Kind, tag: String, to directory: URL, index: Bool = false) throws {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("blobs/sha256"), withIntermediateDirectories: true)
        try #"{"imageLayoutVersion":"1.0.0"}"#.write(to: directory.appendingPathComponent("oci-layout"), atomically: true, encoding: .utf8)
        var top = try image(module: module, kind: kind, directory: directory)
        if index {
            let decoy = try image(module: Data("not for amd64".utf8), kind: .cncf, directory: directory)
            var amd = top.descriptor
            amd["platform"] = ["os": "linux", "architecture": "amd64"]
            var arm = decoy.descriptor
            arm["platform"] = ["os": "linux", "architecture": "arm64"]
            let body: [String: Any] = [
                "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [arm, amd],
            ]
            top = try store(Blob(mediaType: "application/vnd.oci.image.index.v1+json", data: json(body)), in: directory)
        }
        var reference = top.descriptor
        reference["annotations"] = ["org.opencontainers.image.ref.name": tag]
        let layoutIndex: [String: Any] = ["schemaVersion": 2, "manifests": [reference]]
        try json(layoutIndex).write(to: directory.appendingPathComponent("index.json"))
    }

    private static func image(module: Data, kind: Kind, directory: URL) throws -> Blob {
        let config: Blob
        let layer: Blob
        switch kind {
        case .wasmToOCI:
            config = Blob(mediaType: "application/vnd.wasm.config.v1+json", data: Data("{}".utf8))
            layer = Blob(mediaType: "application/vnd.wasm.content.layer.v1+wasm", data: module)
        case .cncf:
            config = Blob(
                mediaType: "application/vnd.wasm.config.v0+json",
                data: try json(["architecture": "wasm", "os": "wasip1", "layerDigests": [Blob(mediaType: "", data: module).digest]]))
            layer = Blob(mediaType: "application/wasm", data: module)
        case .soloOCI:
            config = Blob(mediaType: "application/vnd.module.wasm.config.v1+json", data: Data(#"{"type":"envoy_proxy","abiVersions":["v0-097b7f2e4cc1fb490cc1943d0d633655ac3c522f"]}"#.utf8))
            layer = Blob(mediaType: "application/vnd.module.wasm.content.layer.v1+wasm", data: module)
        case .compat:
            let work = directory.appendingPathComponent("compat-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            try module.write(to: work.appendingPathComponent("plugin.wasm"))
            let archive = directory.appendingPathComponent("layer.tar.gz")
            try run("/usr/bin/tar", ["-czf", archive.path, "-C", work.path, "plugin.wasm"])
            let diffID = try run("/bin/sh", ["-c", "gzip -dc '\(archive.path)' | sha256sum | cut -d' ' -f1"])
                .trimmingCharacters(in: .whitespacesAndNewlines)
            layer = Blob(mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", data: try Data(contentsOf: archive))
            config = Blob(
                mediaType: "application/vnd.oci.image.config.v1+json",
                data: try json([
                    "architecture": "amd64", "os": "linux",
                    "rootfs": ["type": "layers", "diff_ids": ["sha256:\(diffID)"]],
                ]))
        }
        _ = try store(config, in: directory)
        _ = try store(layer, in: directory)
        let manifest: [String: Any] = [
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.descriptor, "layers": [layer.descriptor],
        ]
        return try store(Blob(mediaType: "application/vnd.oci.image.manifest.v1+json", data: json(manifest)), in: directory)
    }

    private static func store(_ blob: Blob, in directory: URL) throws -> Blob {
        let hex = String(blob.digest.dropFirst("sha256:".count))
        try blob.data.write(to: directory.appendingPathComponent("blobs/sha256/\(hex)"))
        return blob
    }

    private static func json(_ object: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    }
}
