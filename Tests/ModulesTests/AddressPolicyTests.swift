import Foundation
import Modules
import Testing

/// The destinations a module fetch refuses, by address rather than by spelling. Each is refused
/// before any connection, so these need no network.
@Suite("Address policy")
struct AddressPolicyTests {
    static let limits = FetchLimits(maxModuleBytes: 1024 * 1024, maxDecompressedBytes: 4 * 1024 * 1024, timeout: .seconds(2))

    @Test(
        "metadata, link-local and 'this network' addresses are refused however they are written",
        arguments: [
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:169.254.169.254]/latest/meta-data",
            "http://[::ffff:a9fe:a9fe]/x.wasm",
            "http://[64:ff9b::169.254.169.254]/x.wasm",
            "http://100.100.100.200/latest/meta-data",
            "http://0/x.wasm",
            "http://0.0.0.0/x.wasm",
            "http://[::]/x.wasm",
            "http://[fe80::1]/x.wasm",
            "http://[fd00:ec2::254]/x.wasm",
            "http://metadata.google.internal./x.wasm",
            "http://METADATA.google.internal/x.wasm",
            "http://224.0.0.1/x.wasm",
        ])
    func refused(url: String) async throws {
        let error = await #expect(throws: ModuleError.self) {
            try await ModuleFetcher(limits: Self.limits).fetch(.http(try #require(URL(string: url))))
        }
        #expect(error?.message.contains("refusing to fetch") == true, "\(url): \(String(describing: error))")
    }

    @Test(
        "private and shared ranges are refused unless listed, and the message says how to list them",
        arguments: [
            "http://10.1.2.3/x.wasm", "http://172.16.0.1/x.wasm", "http://172.31.255.254/x.wasm", "http://192.168.1.1/x.wasm",
            "http://100.64.0.1/x.wasm", "http://[fd12::1]/x.wasm", "http://[::ffff:10.0.0.1]/x.wasm", "http://[64:ff9b::a00:1]/x.wasm",
        ])
    func privateRefused(url: String) async throws {
        let error = await #expect(throws: ModuleError.self) {
            try await ModuleFetcher(limits: Self.limits).fetch(.http(try #require(URL(string: url))))
        }
        #expect(error?.message.contains("modules.allowPrivate") == true, "\(url): \(String(describing: error))")
    }

    @Test("allowPrivate entries: names, *.domains and IP blocks; anything else is refused with what to write")
    func allowEntries() {
        for good in ["registry.internal", "*.corp.example", "10.20.0.0/16", "10.1.2.3", "fd00::/8", "Registry-1.Example"] {
            #expect(FetchLimits.problem(allowPrivate: good) == nil, "\(good)")
        }
        for bad in ["", "10.0.0.0/33", "http://registry", "registry:5000", "a..b", "-a.example", "*"] {
            #expect(FetchLimits.problem(allowPrivate: bad)?.contains("neither a host name") == true, "\(bad)")
        }
    }

    @Test("loopback, however it is written, is refused where loopback is not allowed")
    func loopback() async throws {
        var limits = Self.limits
        limits.allowLoopback = false
        for url in ["http://127.0.0.1:9/x.wasm", "http://[::ffff:127.0.0.1]:9/x.wasm", "http://[::1]:9/x.wasm", "http://127.1.2.3:9/x.wasm"] {
            let error = await #expect(throws: ModuleError.self) { try await ModuleFetcher(limits: limits).fetch(.http(URL(string: url)!)) }
            #expect(error?.message.contains("loopback addresses are not allowed here") == true, "\(url): \(String(describing: error))")
        }
    }
}
