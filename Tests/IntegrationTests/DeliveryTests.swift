import Foundation
import QpilotServer
import Modules
import Testing
import SwiftProtobuf
import XDS

extension Integration {
    @Suite("Module delivery modes")
    struct DeliveryTests {
        @Test("file and remote delivery reach Envoy", arguments: ["file", "remote"])
        func deliveryModes(delivery: String) async throws {
            try await withHarness(
                middleware: entry("greeter", config: delivery, extra: ["delivery: \(delivery)"])) { qpilot in
            try await qpilot.startEnvoy()
            try await eventually("the module to run") {
                (try? qpilot.echoedHeaders(qpilot.proxied(), "x-qpilot-config")) == [delivery]
            }
            }
        }

        @Test(
            "A 3.4 MB Go-SDK module goes remote when nothing says how (above modules.inlineMaxBytes), and through ADS inline when asked",
            .enabled(if: Paths.hasSharedTestdata, "needs ../shared/testdata/wasm (present on dev machines and CI, not in a user's clone)"),
            arguments: [nil, "inline"])
        func largeModule(delivery: String?) async throws {
            let module = Paths.sharedTestdata.appendingPathComponent("go-sdk-http-headers.wasm")
            let size = try #require(try FileManager.default.attributesOfItem(atPath: module.path)[.size] as? Int)
            #expect(size > 3_000_000)
            let chosen = delivery.map { "\n    delivery: \($0)" } ?? ""
            try await withHarness(
                middleware: "  - name: go-headers\n    source: \(module.path)\n    failurePolicy: closed\(chosen)") { qpilot in
            try await qpilot.startEnvoy()
            try await eventually("the node in sync") { qpilot.isInSync("envoy-1") }
            let resource = try #require(qpilot.runtime.cache.snapshot(for: "default")?.resources(of: .extensionConfig)["qpilot.middleware.go-headers"])
            #expect((resource.fetched != nil) == (delivery == nil), "remote unless asked otherwise")
            #expect(resource.body.value.count < 10_000 || delivery == "inline", "remote: the module is not in the resource")
            let status = try #require(qpilot.status("envoy-1"))
            #expect(status.acked[.extensionConfig] == qpilot.runtime.cache.snapshot(for: "default")?.version(of: .extensionConfig))
            #expect(status.lastNack == nil)
            #expect(try qpilot.proxied().status == 200, "the module runs: with failurePolicy closed, a missing one would deny")
            }
        }
    }
}

extension Integration {
    @Suite("The module endpoint")
    struct ModuleEndpointTests {
        @Test("Serves the exact stored bytes with a strong ETag, If-None-Match and byte ranges")
        func servesExactBytes() async throws {
            try await withHarness(middleware: entry("greeter", config: "x")) { qpilot in
                let bytes = try Data(contentsOf: Paths.wasm("add-header"))
                let digest = try LoadedModule(bytes: bytes, origin: "test").sha256
                let url = "http://127.0.0.1:\(qpilot.modulesPort)/modules/sha256/\(digest)"

                let whole = try curl([url])
                #expect(whole.status == 200)
                #expect(whole.header("etag") == ["\"\(digest)\""])
                let downloaded = qpilot.directory.appendingPathComponent("download.wasm")
                _ = try curl(["-o", downloaded.path, url])
                #expect(try Data(contentsOf: downloaded) == bytes)

                #expect(try curl(["-H", "If-None-Match: \"\(digest)\"", url]).status == 304)

                let ranged = qpilot.directory.appendingPathComponent("range.bin")
                let partial = try curl(["-H", "Range: bytes=4-11", "-o", ranged.path, url])
                #expect(partial.status == 206)
                #expect(partial.header("content-range") == ["bytes 4-11/\(bytes.count)"])
                #expect(try Data(contentsOf: ranged) == bytes[4...11])
                #expect(try curl(["-H", "Range: bytes=\(bytes.count + 10)-", url]).status == 416)
                // Several ranges, or another unit: the header is ignored and the whole module sent.
                #expect(try curl(["-H", "Range: bytes=0-1,4-5", url]).status == 200)
                #expect(try curl(["-H", "Range: items=0-1", url]).status == 200)
                let head = try curl(["-I", url])
                #expect(head.status == 200)
                #expect(head.header("content-length") == ["\(bytes.count)"])

                #expect(try curl(["http://127.0.0.1:\(qpilot.modulesPort)/modules/sha256/\(String(repeating: "0", count: 64))"]).status == 404)
                #expect(try curl(["http://127.0.0.1:\(qpilot.modulesPort)/modules/sha256/..%2F..%2Fetc%2Fpasswd"]).status == 400)
            }
        }

        @Test("Modules no longer referenced by recent generations are removed from the store")
        func garbageCollection() async throws {
            try await withHarness(middleware: entry("first", module: "add-header", config: "a")) { qpilot in
                let store = qpilot.runtime.moduleStore
                let first = try #require(store.all().first)
                // A reload that changes no module is not a new generation for the store.
                var generation = qpilot.generation
                try qpilot.rewrite(middleware: entry("first", module: "add-header", config: "b"))
                try await qpilot.waitForGeneration(after: generation)
                // Five generations with other modules push the first one out (five are kept).
                let others = ["callout", "pii-guard", "key-injector", "upstream-watch", "sdk-examples/hello-header"]
                for (round, module) in others.enumerated() {
                    generation = qpilot.generation
                    try qpilot.rewrite(middleware: entry("other", module: module, config: "\(round)"))
                    try await qpilot.waitForGeneration(after: generation)
                    #expect(store.all().contains(first) == (round < 4), "after \(module)")
                }
                #expect(store.all().count == 5)
            }
        }
    }
}
