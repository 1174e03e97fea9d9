import Foundation
import QpilotServer
import Testing

@Suite("Server settings")
struct ServerSettingsTests {
    static let directory = URL(fileURLWithPath: "/srv/qpilot")

    @Test("a changed restart-only setting is named by its qpilot.yaml path; desired-state edits are not settings")
    func changed() throws {
        let running = try QpilotConfig.parse("dataDir: data\negress: {port: 10000}\n", directory: Self.directory).server
        let edited = try QpilotConfig.parse(
            """
            dataDir: data
            xds: {address: "0.0.0.0:19000"}
            admin: {tokensFile: tokens}
            modules: {maxModuleBytes: 1024, sharedDir: shared}
            egress: {port: 10001}
            """, directory: Self.directory
        ).server
        #expect(edited.changed(from: running) == ["xds.address", "admin.tokensFile", "modules.sharedDir", "modules.maxModuleBytes"])
        #expect(edited.tokensFile.path == "/srv/qpilot/tokens")
        #expect(running.changed(from: running) == [])
    }

    @Test("a path compares by its path: a data directory created since the last load is not a change")
    func directoryCreatedBetweenLoads() throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("qpilot-settings-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: workspace) }
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        let before = try QpilotConfig.parse("dataDir: ./data\nmodules: {sharedDir: shared}\n", directory: workspace).server
        for name in ["data", "shared"] {
            try FileManager.default.createDirectory(at: workspace.appendingPathComponent(name), withIntermediateDirectories: true)
        }
        let after = try QpilotConfig.parse("dataDir: ./data\nmodules: {sharedDir: shared}\n", directory: workspace).server
        #expect(after.changed(from: before) == [])
    }

    @Test("paths are resolved once, against qpilot.yaml's folder; the tokens file defaults into dataDir")
    func paths() throws {
        let config = try QpilotConfig.parse(
            "dataDir: state\nmodules: {credentialsFile: /etc/docker.json}\negress: {accessLog: logs/egress.log}\n", directory: Self.directory)
        #expect(config.server.dataDir.path == "/srv/qpilot/state")
        #expect(config.server.tokensFile.path == "/srv/qpilot/state/admin-tokens")
        #expect(config.server.modules.credentialsFile?.path == "/etc/docker.json")
        #expect(config.desired.egress.accessLog == "/srv/qpilot/logs/egress.log")
    }
}
