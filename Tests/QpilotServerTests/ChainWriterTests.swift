import Crypto
import EnvoyAPI
import Foundation
import Logging
@testable import QpilotServer
import QpilotAPI
import Modules
import Store
import SwiftProtobuf
import Testing
import Translator
import XDS
import QpilotTestSupport

/// A temporary directory holding a qpilot.yaml and its modules; removed by `remove()`.
struct Workspace {
    let directory: URL
    var configURL: URL { directory.appendingPathComponent("qpilot.yaml") }

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("qpilot-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func write(_ relativePath: String, _ bytes: Data) throws {
        let url = directory.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try bytes.write(to: url)
    }

    func writeConfig(_ text: String) throws { try write("qpilot.yaml", Data(text.utf8)) }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    /// A writer whose server settings come from the config file as it is now, with the stores
    /// the runtime would give it.
    func writer(cache: SnapshotCache) throws -> ChainWriter {
        let config = try QpilotConfig.load(configURL).config
        let logger = Logger(label: "qpilot-tests", factory: { _ in SwiftLogNoOpLogHandler() })
        try FileManager.default.createDirectory(at: config.server.dataDir, withIntermediateDirectories: true)
        let moduleStore = try ModuleStore(dataDirectory: config.server.dataDir)
        let resolver = ModuleResolver(
            fetcher: ModuleFetcher(), store: moduleStore, directory: directory, sharedDir: config.server.modules.sharedDir,
            sourceDirs: config.server.modules.sourceDirs, logger: logger)
        return ChainWriter(
            configURL: configURL, loaded: config, cache: cache, store: try SQLiteStateStore(directory: config.server.dataDir),
            modules: resolver, moduleStore: moduleStore, logger: logger)
    }
}

func sha256Hex(_ bytes: Data) -> String {
    SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
}

/// The Wasm filter inside a snapshot's ECDS resource.
func wasmFilter(_ snapshot: Snapshot?, _ middleware: String) throws -> Envoy_Extensions_Filters_Http_Wasm_V3_Wasm {
    let resource = try #require(snapshot?.resources(of: .extensionConfig)[Names.filter(middleware)])
    let config = try Envoy_Config_Core_V3_TypedExtensionConfig(serializedBytes: resource.body.value)
    return try Envoy_Extensions_Filters_Http_Wasm_V3_Wasm(unpackingAny: config.typedConfig)
}

@Suite("ChainWriter")
struct ChainWriterTests {
    static let authBytes = Samples.wasm("auth")
    static let statsBytes = Samples.wasm("stats")

    static let good = """
        dataDir: data
        middleware:
        - name: stats
          source: modules/stats.wasm
          phase: stats
          fleets: [edge]
          delivery: remote
        - name: auth
          source: modules/auth.wasm
          phase: authn
          config: {realm: corp}
        """

    /// A workspace with both modules and the good config, reconciled once.
    static func published() async throws -> (Workspace, SnapshotCache, ChainWriter) {
        let workspace = try Workspace()
        try workspace.write("modules/auth.wasm", authBytes)
        try workspace.write("modules/stats.wasm", statsBytes)
        try workspace.writeConfig(good)
        let cache = SnapshotCache()
        let writer = try workspace.writer(cache: cache)
        try await writer.reload().get()
        return (workspace, cache, writer)
    }

    @Test("removing the middleware: section imports the file's chain as the store's revision 1; Envoy's config does not change")
    func fileToStoreImport() async throws {
        let (workspace, cache, writer) = try await Self.published()
        defer { workspace.remove() }
        let before = try #require(cache.snapshot(for: "edge")).version
        #expect(try await writer.store.head() == nil)

        let storeMode = Self.good.components(separatedBy: "middleware:")[0]
        try workspace.writeConfig(storeMode)
        try await writer.reload().get()

        let head = try #require(try await writer.store.head())
        #expect(head.number == 1)
        #expect(head.action == "import from qpilot.yaml")
        #expect(head.middleware.map(\.name) == ["stats", "auth"])
        #expect(
            head.middleware.map(\.resolvedSHA256) == [sha256Hex(Self.statsBytes), sha256Hex(Self.authBytes)],
            "the imported revision records its modules, as every other revision does")
        #expect(writer.status.mode == .store)
        #expect(writer.status.middleware == ["auth", "stats"])
        #expect(try #require(cache.snapshot(for: "edge")).version == before, "the same Envoy config, now from the store")

        // A later reload does not import again.
        try await writer.reload().get()
        #expect(try await writer.store.revisions(limit: 10, before: nil).count == 1)
    }

    @Test("a good config is published, per fleet, and its modules are stored")
    func publishes() async throws {
        let (workspace, cache, writer) = try await Self.published()
        defer { workspace.remove() }

        let status = writer.status
        #expect(status.published)
        #expect(status.generation == 1)
        #expect(status.lastError == nil)
        #expect(status.middleware == ["auth", "stats"], "in chain order")

        let core = try #require(cache.snapshot(for: "core"))
        let edge = try #require(cache.snapshot(for: "edge"))
        #expect(core.resources(of: .extensionConfig).keys.sorted() == [Names.filter("auth")])
        #expect(edge.resources(of: .extensionConfig).keys.sorted() == [Names.filter("auth"), Names.filter("stats")])

        let auth = try wasmFilter(core, "auth")
        #expect(auth.config.vmConfig.code.local.inlineBytes == Self.authBytes)
        #expect(try Google_Protobuf_StringValue(unpackingAny: auth.config.configuration).value == #"{"realm":"corp"}"#)
        let stats = try wasmFilter(edge, "stats")
        #expect(stats.config.vmConfig.code.remote.sha256 == sha256Hex(Self.statsBytes))

        for bytes in [Self.authBytes, Self.statsBytes] {
            let stored = workspace.directory.appendingPathComponent("data/modules/sha256/\(sha256Hex(bytes))")
            #expect(FileManager.default.contents(atPath: stored.path) == bytes)
        }
    }

    /// A bad edit of the good config, and what its error must say.
    struct BadEdit: Sendable, CustomTestStringConvertible {
        let label: String
        let yaml: String
        let files: [String: Data]
        let lineMarker: String?
        let field: String
        let mentions: [String]
        var testDescription: String { label }
    }

    static let badEdits: [BadEdit] = [
        BadEdit(
            label: "missing module file",
            yaml: """
                dataDir: data
                middleware:
                - name: auth
                  source: modules/auth.wasm
                - name: gone
                  source: modules/gone.wasm
                """,
            files: [:], lineMarker: "source: modules/gone.wasm", field: "middleware[1].source",
            mentions: ["modules/gone.wasm", "no such file"]),
        BadEdit(
            label: "duplicate name",
            yaml: """
                dataDir: data
                middleware:
                - name: auth
                  source: modules/auth.wasm
                - name: auth  # twice
                  source: modules/stats.wasm
                """,
            files: [:], lineMarker: "# twice", field: "middleware[1].name",
            mentions: ["duplicate middleware name 'auth'", "line 3"]),
        BadEdit(
            label: "unknown field",
            yaml: """
                dataDir: data
                middleware:
                - name: auth
                  source: modules/auth.wasm
                  failure_policy: open
                """,
            files: [:], lineMarker: "failure_policy", field: "middleware[0].failure_policy",
            mentions: ["unknown field 'failure_policy'", "failurePolicy"]),
        BadEdit(
            label: "a module that is not WebAssembly",
            yaml: """
                dataDir: data
                middleware:
                - name: auth
                  source: modules/auth.wasm
                - name: text
                  source: modules/readme.wasm
                """,
            files: ["modules/readme.wasm": Data("# not a module\n".utf8)], lineMarker: "source: modules/readme.wasm",
            field: "middleware[1].source",
            mentions: ["readme.wasm", "not a WebAssembly module"]),
        BadEdit(
            label: "an OCI source whose registry has a space (it once trapped qpilot at every start)",
            yaml: """
                dataDir: data
                middleware:
                - name: auth
                  source: oci://a b/repo:tag
                """,
            files: [:], lineMarker: "source: oci://a b/repo:tag", field: "middleware[0].source",
            mentions: ["'a b' is not a registry"]),
        BadEdit(
            label: "a module shorter than the header",
            yaml: """
                dataDir: data
                middleware:
                - name: tiny
                  source: modules/tiny.wasm
                """,
            files: ["modules/tiny.wasm": Data([0x00, 0x61, 0x73])], lineMarker: "source: modules/tiny.wasm",
            field: "middleware[0].source",
            mentions: ["not a WebAssembly module"]),
    ]

    @Test("a bad reload is refused with its line and field, and the running config stays", arguments: badEdits)
    func badReload(edit: BadEdit) async throws {
        let (workspace, cache, writer) = try await Self.published()
        defer { workspace.remove() }
        let core = try #require(cache.snapshot(for: "core")).version
        let edge = try #require(cache.snapshot(for: "edge")).version

        for (path, bytes) in edit.files { try workspace.write(path, bytes) }
        try workspace.writeConfig(edit.yaml)
        let result = await writer.reload()
        guard case .failure(let error) = result else {
            Issue.record("the reload should fail")
            return
        }
        #expect(error.line == edit.lineMarker.flatMap { line(of: $0, in: edit.yaml) })
        #expect(error.field == edit.field)
        for mention in edit.mentions {
            #expect(error.message.contains(mention), "\(error.message)")
        }

        #expect(cache.snapshot(for: "core")?.version == core, "Envoy still sees the previous config")
        #expect(cache.snapshot(for: "edge")?.version == edge)
        let status = writer.status
        #expect(status.lastError == error.description)
        #expect(status.generation == 1)
        #expect(status.published)
        #expect(status.middleware == ["auth", "stats"])
    }

    @Test("a good config after a bad one is published and clears the error")
    func recovers() async throws {
        let (workspace, cache, writer) = try await Self.published()
        defer { workspace.remove() }
        try workspace.writeConfig("dataDir: data\nmiddleware:\n- name: x\n  source: nowhere.wasm\n")
        await #expect(throws: QpilotError.self) { try await writer.reload().get() }

        try workspace.writeConfig("dataDir: data\nmiddleware:\n- name: auth\n  source: modules/auth.wasm\n")
        try await writer.reload().get()
        #expect(writer.status.generation == 2)
        #expect(writer.status.lastError == nil)
        #expect(writer.status.middleware == ["auth"])
        #expect(cache.snapshot(for: "edge")?.resources(of: .extensionConfig).keys.sorted() == [Names.filter("auth")])
    }

    @Test("an unreadable config file is an error that names it")
    func missingConfigFile() async throws {
        let (workspace, _, writer) = try await Self.published()
        defer { workspace.remove() }
        try FileManager.default.removeItem(at: workspace.configURL)
        guard case .failure(let error) = await writer.reload() else {
            Issue.record("the reload should fail")
            return
        }
        #expect(error.message.contains("cannot read"))
        #expect(error.message.contains("qpilot.yaml"))
    }

    @Test("delivery file writes the module into the shared directory and points Envoy at it")
    func fileDelivery() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("auth.wasm", Self.authBytes)
        try workspace.writeConfig("""
            dataDir: data
            modules:
              sharedDir: shared
            delivery: file
            middleware:
            - name: auth
              source: auth.wasm
            """)
        let cache = SnapshotCache()
        try await workspace.writer(cache: cache).reload().get()

        let target = workspace.directory.appendingPathComponent("shared/\(sha256Hex(Self.authBytes)).wasm")
        #expect(FileManager.default.contents(atPath: target.path) == Self.authBytes)
        let wasm = try wasmFilter(cache.snapshot(for: "any"), "auth")
        #expect(wasm.config.vmConfig.code.local.filename == target.path)
    }

    @Test("reloadIfChanged reloads after any edit, even one that keeps the length, and not otherwise")
    func reloadIfChanged() async throws {
        let (workspace, _, writer) = try await Self.published()
        defer { workspace.remove() }
        await writer.reloadIfChanged()
        #expect(writer.status.generation == 1, "unchanged file, no reload")

        // Same length, and past the first 80 bytes.
        let edited = Self.good.replacingOccurrences(of: "realm: corp", with: "realm: prod")
        #expect(edited.utf8.count == Self.good.utf8.count)
        try workspace.writeConfig(edited)
        await writer.reloadIfChanged()
        #expect(writer.status.generation == 2)
    }
}
