import ArgumentParser
import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import PKI
import QpilotAPI
import QpilotServer
import SwiftASN1
import X509

/// `qpilot bootstrap --enroll` and `qpilot enroll --renew`: the node's side of enrolment. The key
/// is made here and never leaves the node; qpilot sees only a certificate request.
enum Enroller {
    /// What `qpilot enroll --renew` reads back from the directory.
    struct Record: Codable {
        var url: String
        var nodeID: String
        var fleet: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// qpilot's CA, fetched from `url` and accepted only when its SHA-256 is `pin`.
    static func fetchCA(url: String, pin: String) async throws -> String {
        var tls = TLSConfiguration.makeClientConfiguration()
        // Nothing is trusted yet: the answer is checked against the pin before it is used.
        tls.certificateVerification = .none
        let pem = try await request(url: url + "/v1/enrol/ca", body: nil, tls: tls)
        let fingerprint = try Self.fingerprint(pem)
        guard fingerprint == pin.lowercased().replacingOccurrences(of: ":", with: "") else {
            throw Failure(
                "the server at \(url) presents a CA with SHA-256 \(fingerprint), not \(pin): it is not the qpilot the token came from (or the pin was mistyped)"
            )
        }
        return pem
    }

    static func fingerprint(_ pem: String) throws -> String {
        let certificate = try Certificate(pemEncoded: pem)
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return SHA256.hash(data: serializer.serializedBytes).map { String(format: "%02x", $0) }.joined()
    }

    /// POSTs `body` (JSON) to `url`, trusting only qpilot's CA; the answer's body, or a failure
    /// with the server's message.
    static func post<T: Encodable>(url: String, _ body: T, ca: String) async throws -> EnrolResponse {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
        let data = try APIJSON.encoder().encode(body)
        let text = try await request(url: url, body: data, tls: tls)
        do {
            return try APIJSON.decoder().decode(EnrolResponse.self, from: Data(text.utf8))
        } catch {
            throw Failure("\(url) answered something that is not an enrolment: \(text.prefix(200))")
        }
    }

    static func request(url: String, body: Data?, tls: TLSConfiguration) async throws -> String {
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(30))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let text = try await request(url: url, body: body, client: client)
            try await client.shutdown()
            return text
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    static func request(url: String, body: Data?, client: HTTPClient) async throws -> String {
        var request = HTTPClientRequest(url: url)
        if let body {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(30))
        } catch {
            throw Failure("cannot reach \(url): \(error)")
        }
        let bytes = try await response.body.collect(upTo: 1024 * 1024)
        let text = String(buffer: bytes)
        guard response.status == .ok else {
            // Hummingbird's errors are {"error":{"message":…}}.
            struct Body: Decodable {
                struct Inner: Decodable { var message: String }
                var error: Inner
            }
            let message = (try? JSONDecoder().decode(Body.self, from: Data(text.utf8)))?.error.message ?? text
            throw Failure("\(url) refused (\(response.status.code)): \(message)")
        }
        return text
    }

    /// A certificate request for `nodeID`, signed by `key`.
    static func certificateRequest(key: P256.Signing.PrivateKey, nodeID: String) throws -> String {
        let request = try CertificateSigningRequest(
            version: .v1, subject: try DistinguishedName { CommonName(String(nodeID.prefix(64))) },
            privateKey: Certificate.PrivateKey(key), attributes: CertificateSigningRequest.Attributes())
        return try request.serializeAsPEM().pemString
    }

    /// Writes `text` to `name` in `directory` atomically: a new temporary file created with its
    /// mode from the start (a key is never readable by others, not even for a moment), written,
    /// synced, then renamed into place, which is the move Envoy's watch sees.
    static func write(_ text: String, _ name: String, in directory: URL, mode: mode_t) throws {
        let target = directory.appendingPathComponent(name)
        let temporary = directory.appendingPathComponent(".\(name).tmp")
        unlink(temporary.path)
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure("cannot create \(temporary.path): \(String(cString: strerror(errno)))") }
        var failure: String?
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count, failure == nil {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { failure = String(cString: strerror(errno)) } else { written += count }
        }
        if failure == nil, fchmod(fd, mode) != 0 || fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if let failure {
            unlink(temporary.path)
            throw Failure("cannot write \(temporary.path): \(failure)")
        }
        guard rename(temporary.path, target.path) == 0 else {
            throw Failure("cannot move \(temporary.path) to \(target.path): \(String(cString: strerror(errno)))")
        }
        let directoryFD = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    static func readKey(in directory: URL) throws -> P256.Signing.PrivateKey {
        let path = directory.appendingPathComponent(Bootstrap.Files.key).path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw Failure("cannot read \(path); enrol first with qpilot bootstrap --enroll")
        }
        return try P256.Signing.PrivateKey(pemRepresentation: text)
    }
}

extension BootstrapCommand {
    /// Enrols with qpilot and writes the node's directory (key, certificate, CA, SDS file,
    /// enrolment record, Envoy bootstrap).
    func enroll(url: String) async throws {
        guard let token, let directory = out else {
            throw ValidationError("--enroll needs --token (from `qctl node token create`) and --out (the directory to write)")
        }
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        guard let parsed = URL(string: base), parsed.scheme == "https", let host = parsed.host, !host.isEmpty else {
            throw ValidationError("--enroll is qpilot's module port as https://HOST:PORT, such as https://qpilot.example.com:18002")
        }
        let ca: String
        if let caFile {
            ca = try String(contentsOfFile: caFile, encoding: .utf8)
        } else if let caSha256 {
            ca = try await Enroller.fetchCA(url: base, pin: caSha256)
        } else {
            throw ValidationError("pass --ca-sha256 (qctl node token create prints it) or --ca-file, so the server can be checked")
        }
        let folder = URL(fileURLWithPath: directory).standardizedFileURL
        // The path is written into YAML (envoy.yaml, node-sds.yaml) between double quotes.
        guard !folder.path.contains(where: { $0 == "\"" || $0 == "\\" || $0.isNewline }) else {
            throw ValidationError("--out must not contain a double quote, a backslash or a line break")
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // Also when it existed already: only the node's user may list or enter it.
        guard chmod(folder.path, 0o700) == 0 else {
            throw Enroller.Failure("cannot make \(folder.path) private (mode 0700): \(String(cString: strerror(errno)))")
        }
        let key = P256.Signing.PrivateKey()
        let csr = try Enroller.certificateRequest(key: key, nodeID: nodeId)
        let answer = try await Enroller.post(url: base + "/v1/enrol", EnrolRequest(token: token, nodeID: nodeId, csr: csr), ca: ca)
        try Enroller.write(key.pemRepresentation, Bootstrap.Files.key, in: folder, mode: 0o600)
        try Enroller.write(answer.certificate, Bootstrap.Files.certificate, in: folder, mode: 0o644)
        try Enroller.write(answer.ca, Bootstrap.Files.ca, in: folder, mode: 0o644)
        try Enroller.write(Bootstrap.sdsFile(directory: folder.path), Bootstrap.Files.sds, in: folder, mode: 0o644)
        let record = Enroller.Record(url: base, nodeID: answer.nodeID, fleet: answer.fleet)
        try Enroller.write(
            String(decoding: try JSONEncoder().encode(record), as: UTF8.self), Bootstrap.Files.enrolment, in: folder, mode: 0o644)
        let addresses = try xds.map(Bootstrap.addresses) ?? [HostPort(host: host, port: answer.xdsPort)]
        let bootstrap = Bootstrap(
            nodeID: answer.nodeID, fleet: answer.fleet, xds: addresses[0], replicas: Array(addresses.dropFirst()), delta: delta,
            adminPort: adminPort, certificateDirectory: folder.path)
        try Enroller.write(bootstrap.yaml, Bootstrap.Files.bootstrap, in: folder, mode: 0o644)
        print(
            """
            enrolled node \(answer.nodeID) of fleet \(answer.fleet); its certificate expires \(ISO8601DateFormatter().string(from: answer.expires))
            wrote \(folder.path)/{\(Bootstrap.Files.key),\(Bootstrap.Files.certificate),\(Bootstrap.Files.ca),\(Bootstrap.Files.sds),\(Bootstrap.Files.enrolment),\(Bootstrap.Files.bootstrap)}
            start Envoy:  envoy -c \(folder.path)/\(Bootstrap.Files.bootstrap)
            renew before expiry:  qpilot enroll --renew --dir \(folder.path)   (deploy/ has a systemd timer and a Kubernetes sidecar)
            """)
    }
}

struct EnrollCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enroll",
        abstract: "Renew an enrolled node's client certificate.",
        discussion: """
            Reads the directory `qpilot bootstrap --enroll` wrote, sends qpilot a certificate request signed \
            by the node's key (which stays here), and renames the new certificate into place; Envoy's SDS \
            file watch picks it up without a restart and its xDS stream stays open. By default it renews \
            only once a third of the certificate's life is left, so it can run often: deploy/ has a \
            systemd timer that runs it hourly and a Kubernetes sidecar that keeps it running with --every.

            Example: qpilot enroll --renew --dir /etc/envoy/qpilot
            """)

    @Flag(help: "Renew the certificate (the only action for now).")
    var renew = false

    @Option(help: "The directory `qpilot bootstrap --enroll --out` wrote.")
    var dir: String

    @Flag(help: "Renew now, however long the certificate has left.")
    var force = false

    @Option(help: "Keep running, checking every this many seconds (for a sidecar).")
    var every: Int?

    func validate() throws {
        guard renew else { throw ValidationError("say --renew; to enrol a new node use `qpilot bootstrap --enroll`") }
        if let every, every < 1 { throw ValidationError("--every is a number of seconds, at least 1") }
    }

    func run() async throws {
        repeat {
            do {
                try await renewOnce()
            } catch {
                FileHandle.standardError.write(Data("qpilot enroll: \(error)\n".utf8))
                if every == nil { throw ExitCode(1) }
            }
            if let every { try await Task.sleep(for: .seconds(every)) }
        } while every != nil
    }

    func renewOnce() async throws {
        let folder = URL(fileURLWithPath: dir).standardizedFileURL
        let recordPath = folder.appendingPathComponent(Bootstrap.Files.enrolment).path
        guard let data = FileManager.default.contents(atPath: recordPath),
            let record = try? JSONDecoder().decode(Enroller.Record.self, from: data)
        else {
            throw Enroller.Failure("cannot read \(recordPath); enrol first with qpilot bootstrap --enroll")
        }
        let certificatePEM = try String(contentsOf: folder.appendingPathComponent(Bootstrap.Files.certificate), encoding: .utf8)
        let ca = try String(contentsOf: folder.appendingPathComponent(Bootstrap.Files.ca), encoding: .utf8)
        let current = try Certificate(pemEncoded: certificatePEM)
        // qpilot dates a certificate five minutes back (clocks differ); its life starts at issue.
        let life = max(1, current.notValidAfter.timeIntervalSince(current.notValidBefore) - 300)
        let left = current.notValidAfter.timeIntervalSinceNow
        guard force || left < life / 3 else {
            print("certificate of node \(record.nodeID) has \(Int(left)) s left of \(Int(life)) s; renewing once a third is left (--force renews now)")
            return
        }
        let key = try Enroller.readKey(in: folder)
        let csr = try Enroller.certificateRequest(key: key, nodeID: record.nodeID)
        let answer = try await Enroller.post(
            url: record.url + "/v1/enrol/renew", RenewRequest(certificate: certificatePEM, csr: csr), ca: ca)
        try Enroller.write(answer.certificate, Bootstrap.Files.certificate, in: folder, mode: 0o644)
        print("renewed the certificate of node \(answer.nodeID); it expires \(ISO8601DateFormatter().string(from: answer.expires))")
    }
}

extension Bootstrap {
    /// `--xds`: one host:port, or several separated by commas (the replicas of one qpilot).
    static func addresses(_ text: String) throws -> [HostPort] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let addresses = parts.compactMap(HostPort.init)
        guard !parts.isEmpty, addresses.count == parts.count else {
            throw ValidationError("--xds must be host:port, or several separated by commas, such as qpilot-1.internal:18000,qpilot-2.internal:18000")
        }
        guard Set(addresses.map(\.description)).count == addresses.count else {
            throw ValidationError("--xds names an address twice")
        }
        return addresses
    }
}
