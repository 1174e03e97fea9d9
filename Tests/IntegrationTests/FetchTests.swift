import AsyncHTTPClient
import Foundation
@testable import Modules
import NIOCore
import NIOHTTP1
import Testing

extension Integration {
    /// Module fetches against a real HTTP server on loopback (Tests/Fixtures/module-server.py).
    @Suite("Fetching modules over HTTP")
    struct FetchTests {
        final class Server: @unchecked Sendable {
            let child: ChildProcess
            let port: Int
            init() async throws {
                port = try freePort()
                let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fetch-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                child = try ChildProcess(
                    "/usr/bin/python3",
                    [Paths.repository.appendingPathComponent("Tests/Fixtures/module-server.py").path, Paths.wasm("add-header").path, String(port)],
                    log: dir.appendingPathComponent("server.log"))
                let port = self.port
                try await eventually("the module server") {
                    (try? curl(["http://127.0.0.1:\(port)/module.wasm"]))?.status == 200
                }
            }
            func url(_ path: String) -> ModuleSource { .http(URL(string: "http://127.0.0.1:\(port)\(path)")!) }
            deinit { child.stop(grace: 0) }
        }

        static let limits = FetchLimits(
            maxModuleBytes: 1024 * 1024, maxDecompressedBytes: 4 * 1024 * 1024, timeout: .seconds(2), attempts: 3,
            backoff: .milliseconds(50))

        var expected: LoadedModule {
            get throws { try LoadedModule(bytes: Data(contentsOf: Paths.wasm("add-header")), origin: "test") }
        }

        @Test("A .wasm, a .tar.gz (plugin.wasm), a .tgz (its only .wasm) and a redirect chain all give the same module",
              arguments: ["/module.wasm", "/module.tar.gz", "/only.tgz", "/redirect"])
        func shapes(path: String) async throws {
            let server = try await Server()
            let fetched = try await ModuleFetcher(limits: Self.limits).fetch(server.url(path))
            #expect(fetched.module == (try expected))
        }

        @Test("Two 5xx answers, then success: retried with backoff")
        func retries() async throws {
            let server = try await Server()
            let fetched = try await ModuleFetcher(limits: Self.limits).fetch(server.url("/flaky.wasm"))
            #expect(fetched.module == (try expected))
            let counts = try curl(["http://127.0.0.1:\(server.port)/__count"]).body
            #expect(counts.contains("'/flaky.wasm': 3"), "\(counts)")
        }

        @Test("Refusals name the reason", arguments: [
            ("/down.wasm", "gave up after 3 attempts"),
            ("/slow.wasm", "timed out"),
            ("/drip.wasm", "slower than the minimum of 16384 bytes a second"),
            ("/huge.wasm", "over the limit of 1048576 bytes"),
            ("/big-member.tar.gz", "bytes, over the limit of 1048576 bytes (modules.maxModuleBytes)"),
            ("/chunked-huge.wasm", "more than the limit of 1048576 bytes"),
            ("/loop", "too many redirects"),
            ("/not-wasm", "is not a WebAssembly module"),
            ("/missing.wasm", "HTTP 404"),
            ("/two.tar.gz", "holds 2 .wasm files and no plugin.wasm"),
            ("/traversal.tar.gz", "points outside its folder"),
            ("/absolute.tar.gz", "has an absolute path"),
            ("/link.tar.gz", "links are not allowed"),
            ("/bomb.tar.gz", "expands past the limit"),
        ])
        func refusals(_ testCase: (String, String)) async throws {
            let (path, reason) = testCase
            let server = try await Server()
            let store = try ModuleStore(dataDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("store-\(UUID().uuidString)"))
            do {
                let fetched = try await ModuleFetcher(limits: Self.limits).fetch(server.url(path))
                try store.put(fetched.module)
                Issue.record("\(path) was accepted")
            } catch {
                #expect(error.message.contains(reason), "\(path): \(error.message)")
            }
            // Nothing was written: archives are read in memory, never extracted.
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.directory.path).isEmpty)
        }

        @Test("A sha256 that does not match is refused; a matching one passes")
        func sha256Pin() async throws {
            let server = try await Server()
            let fetcher = ModuleFetcher(limits: Self.limits)
            let good = try expected.sha256
            #expect(try await fetcher.fetch(server.url("/module.wasm"), expectedSHA256: good).module.sha256 == good)
            await #expect(throws: ModuleError.self) {
                try await fetcher.fetch(server.url("/module.wasm"), expectedSHA256: String(repeating: "0", count: 64))
            }
        }

        @Test("Where loopback is refused, modules.allowPrivate opens a host by name or by block; the request keeps its name")
        func allowList() async throws {
            let server = try await Server()
            var limits = Self.limits
            limits.allowLoopback = false
            let byName = URL(string: "http://localhost:\(server.port)/module.wasm")!
            let byAddress = URL(string: "http://127.0.0.1:\(server.port)/module.wasm")!
            for url in [byName, byAddress] {
                let error = await #expect(throws: ModuleError.self) { try await ModuleFetcher(limits: limits).fetch(.http(url)) }
                #expect(error?.message.contains("refusing to fetch") == true, "\(url): \(String(describing: error))")
            }
            limits.allowPrivate = ["localhost"]
            #expect(try await ModuleFetcher(limits: limits).fetch(.http(byName)).module == (try expected))
            limits.allowPrivate = ["127.0.0.0/8"]
            #expect(try await ModuleFetcher(limits: limits).fetch(.http(byAddress)).module == (try expected))
            let hosts = try curl(["http://127.0.0.1:\(server.port)/__hosts"]).body.split(separator: "\n")
            #expect(hosts.contains("localhost:\(server.port)"), "the request to a name carries the name: \(hosts)")
        }

        @Test("A fetch connects to the address the policy checked, never resolving the name again")
        func pinned() async throws {
            let server = try await Server()
            // `pinned.invalid` resolves nowhere (RFC 6761), so only the pin can reach the server.
            let client = HTTPClient(
                eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                configuration: HTTPFetcher.configuration(pinning: "pinned.invalid", to: "127.0.0.1"))
            defer { Task { try? await client.shutdown() } }
            let response = try await client.execute(
                HTTPClientRequest(url: "http://pinned.invalid:\(server.port)/module.wasm"), timeout: .seconds(5))
            #expect(response.status.code == 200)
            let hosts = try curl(["http://127.0.0.1:\(server.port)/__hosts"]).body.split(separator: "\n")
            #expect(hosts.contains("pinned.invalid:\(server.port)"), "\(hosts)")
            // And the policy's answer is what the fetch pins: the checked address.
            #expect(try await AddressPolicy.check(host: "localhost", limits: Self.limits) == "127.0.0.1")
        }

        @Test("Link-local and cloud-metadata addresses are refused before any connection")
        func metadataRefused() async throws {
            let fetcher = ModuleFetcher(limits: Self.limits)
            for url in ["http://169.254.169.254/latest/meta-data", "http://metadata.google.internal/x.wasm", "http://[fe80::1]/x.wasm"] {
                do {
                    _ = try await fetcher.fetch(.http(URL(string: url)!))
                    Issue.record("\(url) was fetched")
                } catch {
                    #expect(error.message.contains("refusing to fetch"), "\(url): \(error.message)")
                }
            }
        }
    }
}
