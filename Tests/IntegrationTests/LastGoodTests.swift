import Foundation
import QpilotAPI
import QpilotTestSupport
import Testing

extension Integration {
    @Suite("The last good config across a restart")
    struct LastGoodTests {
        /// `GET /v1/config` of the running qpilot.
        static func configStatus(_ qpilot: QpilotProcess) throws -> ConfigStatusView {
            let token = try String(contentsOf: qpilot.tokenFile, encoding: .utf8).split(separator: "\n")
                .first { !$0.hasPrefix("#") && !$0.isEmpty }.map { String($0.split(separator: " ")[0]) } ?? ""
            let result = try curl(["-H", "Authorization: Bearer \(token)", "\(qpilot.adminURL)/v1/config"])
            return try APIJSON.decoder().decode(ConfigStatusView.self, from: Data(result.body.utf8))
        }

        @Test("A module file gone while qpilot was down: it starts, serves the last good config with the same versions, and says why; the file back and a reload end it")
        func restartServesLastGood() async throws {
            let qpilot = try await QpilotProcess(middleware: nil)
            defer { qpilot.stop() }
            let module = qpilot.directory.appendingPathComponent("own.wasm")
            try FileManager.default.copyItem(at: Paths.wasm("add-header"), to: module)
            let section = "  - name: greeter\n    source: own.wasm\n    config: kept"
            try qpilot.rewrite(middleware: section)
            qpilot.reload()
            let envoy = try await qpilot.startEnvoy()
            defer { envoy.stop() }
            try await eventually("Envoy in sync with the file's chain", timeout: .seconds(30)) {
                try qpilot.node("envoy-1")?.middleware.only?.state == .inSync
            }
            let before = try #require(try qpilot.node("envoy-1")?.middleware.only)
            #expect(try qpilot.echoedHeaders("x-qpilot-config") == ["kept"])

            qpilot.kill9()
            try FileManager.default.removeItem(at: module)
            try await qpilot.start()  // refused to start before: "cannot read module …own.wasm: no such file"

            let status = try Self.configStatus(qpilot)
            #expect(status.published)
            #expect(status.middleware == ["greeter"])
            #expect(status.lastError?.contains("serving the last good config") == true, "\(String(describing: status.lastError))")
            #expect(status.lastError?.contains("own.wasm") == true)
            #expect(qpilot.currentLog.contains("serving the last good one"))
            try await eventually("Envoy back on the restarted qpilot", timeout: .seconds(30)) {
                try qpilot.node("envoy-1")?.connected == true
            }
            let after = try #require(try qpilot.node("envoy-1")?.middleware.only)
            #expect(after.state == .inSync)
            #expect(after.desired == before.desired, "the same version: Envoy sees no change")
            #expect(try qpilot.echoedHeaders("x-qpilot-config") == ["kept"])

            try FileManager.default.copyItem(at: Paths.wasm("add-header"), to: module)
            qpilot.reload()
            try await eventually("the reload to succeed") { try Self.configStatus(qpilot).lastError == nil }
            #expect(try qpilot.node("envoy-1")?.middleware.only?.desired == before.desired)
        }
    }
}
