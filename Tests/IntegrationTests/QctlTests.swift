import Foundation
import Modules
import QpilotServer
import Testing

extension Integration {
    /// qctl run as a binary, as an operator would.
    @Suite("qctl module validate and inspect")
    struct QctlTests {
        /// Both streams together: these tests look for a message, wherever qctl writes it.
        static func qctl(_ arguments: [String]) throws -> (status: Int32, output: String) {
            let result = try runQctl(arguments)
            return (result.status, result.stdout + result.stderr)
        }

        @Test("A valid module exits 0; inspect prints its report")
        func valid() throws {
            let module = Paths.wasm("callout").path
            let validate = try Self.qctl(["module", "validate", module])
            #expect(validate.status == 0, "\(validate.output)")
            #expect(validate.output.contains("valid (Proxy-Wasm ABI 0.2.1"))
            let inspect = try Self.qctl(["module", "inspect", module, "--output", "json"])
            #expect(inspect.status == 0)
            struct Check: Decodable {
                var valid: Bool
                struct Report: Decodable { var capabilities: [String]; var sha256: String }
                var report: Report
            }
            let check = try JSONDecoder().decode(Check.self, from: Data(inspect.output.utf8))
            #expect(check.valid)
            #expect(check.report.capabilities.contains("http_callouts"))
            #expect(check.report.sha256.count == 64)
        }

        @Test("An invalid module exits 1 with the reason")
        func invalid() throws {
            let notWasm = FileManager.default.temporaryDirectory.appendingPathComponent("not-\(UUID().uuidString).wasm")
            try Data("hello".utf8).write(to: notWasm)
            let result = try Self.qctl(["module", "validate", notWasm.path])
            #expect(result.status == 1)
            #expect(result.output.contains("is not a WebAssembly module"), "\(result.output)")
        }

        @Test("A module served over HTTP by qpilot's own module endpoint validates, and a wrong sha256 fails")
        func overHTTP() async throws {
            try await withHarness(middleware: entry("greeter", config: "x")) { qpilot in
                let digest = try #require(qpilot.runtime.moduleStore.all().first)
                let url = "http://127.0.0.1:\(qpilot.modulesPort)/modules/sha256/\(digest)"
                #expect(try Self.qctl(["module", "validate", url, "--sha256", digest]).status == 0)
                let wrong = try Self.qctl(["module", "validate", url, "--sha256", String(repeating: "1", count: 64)])
                #expect(wrong.status == 1)
                #expect(wrong.output.contains("was expected"), "\(wrong.output)")
            }
        }

        @Test("--help texts describe the commands")
        func help() throws {
            let top = try Self.qctl(["--help"])
            #expect(top.output.contains("module"))
            #expect(top.output.contains("Exit codes"))
            let validate = try Self.qctl(["module", "validate", "--help"])
            #expect(validate.output.contains("oci://"))
            #expect(validate.output.contains("--output"))
            #expect(validate.output.contains("Exits 0 when the module is valid"))
        }
    }
}
