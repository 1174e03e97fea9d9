import Foundation
import QpilotAPI
@testable import QpilotServer
import QpilotTestSupport
import Store
import SwiftProtobuf
import Testing
import XDS

/// Writes through the one writer, in store mode, on a real store in a temporary directory.
@Suite("ChainWriter writes")
struct ChainWriterWriteTests {
    static let actor = WriteActor(claimed: "test", tokenFingerprint: "00000000")

    /// A store-mode workspace (no `middleware:` section) with one module, published once.
    static func storeMode() async throws -> (Workspace, SnapshotCache, ChainWriter, String) {
        let workspace = try Workspace()
        try workspace.write("modules/auth.wasm", Samples.wasm("auth"))
        try workspace.writeConfig("dataDir: data\nmodules: { sourceDirs: [modules] }\n")
        let cache = SnapshotCache()
        let writer = try workspace.writer(cache: cache)
        try await writer.reload().get()
        return (workspace, cache, writer, workspace.directory.appendingPathComponent("modules/auth.wasm").path)
    }

    @Test("a put creates, then replaces; the same document again changes nothing; each revision records its module")
    func putCreatesReplaces() async throws {
        let (workspace, cache, writer, module) = try await Self.storeMode()
        defer { workspace.remove() }
        let spec = MiddlewareSpec(name: "auth", source: module, phase: .authn)
        let first = try await writer.write(.put(spec), expected: 0, actor: Self.actor)
        #expect(first == .init(revision: 1, changed: true, created: true))
        var changed = spec
        changed.priority = 3
        #expect(try await writer.write(.put(changed), expected: nil, actor: Self.actor) == .init(revision: 2, changed: true, created: false))
        #expect(try await writer.write(.put(changed), expected: nil, actor: Self.actor) == .init(revision: 2, changed: false, created: false))

        let head = try #require(try await writer.store.head())
        #expect(head.middleware.first?.resolvedSHA256 == sha256Hex(Samples.wasm("auth")))
        #expect(head.author == "test (token 00000000)")
        #expect(writer.status.revision == 2)
        #expect(cache.snapshot(for: "any")?.resources(of: .extensionConfig).keys.sorted() == ["qpilot.middleware.auth"])
        #expect(try await writer.store.rollout(revision: 2) != nil, "the rollout is recorded")
    }

    @Test("refusals carry their code, and the head stays where it was")
    func refusals() async throws {
        let (workspace, _, writer, module) = try await Self.storeMode()
        defer { workspace.remove() }
        _ = try await writer.write(.put(MiddlewareSpec(name: "auth", source: module)), expected: nil, actor: Self.actor)

        func code(_ write: ChainWrite, expected: Int? = nil) async -> QpilotError.Code? {
            do {
                _ = try await writer.write(write, expected: expected, actor: Self.actor)
                return nil
            } catch {
                return error.code
            }
        }
        #expect(await code(.put(MiddlewareSpec(name: "x", source: module)), expected: 7) == .staleRevision)
        #expect(await code(.create(MiddlewareSpec(name: "auth", source: module))) == .duplicate)
        #expect(await code(.delete(name: "nope")) == .notFound)
        #expect(await code(.rollback(to: 42)) == .unknownRevision)
        #expect(await code(.put(MiddlewareSpec(name: "bad name", source: module))) == .invalid)
        #expect(await code(.put(MiddlewareSpec(name: "gone", source: "/nowhere/gone.wasm"))) == .invalidModule)
        #expect(try await writer.store.head()?.number == 1)
    }

    @Test("a missing secret is missing_secret, placed by the entry's index in the whole chain (disabled ones count)")
    func missingSecret() async throws {
        let (workspace, _, writer, module) = try await Self.storeMode()
        defer { workspace.remove() }
        let off = MiddlewareSpec(name: "off", source: module, enabled: false)
        let keyed = MiddlewareSpec(name: "keyed", source: module, config: .object(["key": .string("${secret:api-key}")]))
        do {
            _ = try await writer.write(.apply([off, keyed]), expected: nil, actor: Self.actor)
            Issue.record("the write should be refused")
        } catch {
            #expect(error.code == .missingSecret)
            #expect(error.field == "middleware[1].config")
            #expect(error.message.contains("api-key"))
        }
        try await writer.setSecret(name: "api-key", value: "sk-1", actor: Self.actor)
        #expect(try await writer.write(.apply([off, keyed]), expected: nil, actor: Self.actor).revision == 1)
        do {
            try await writer.deleteSecret(name: "api-key", actor: Self.actor)
            Issue.record("a secret in use must not be deleted")
        } catch {
            #expect(error.code == .secretInUse)
            #expect(error.details["middleware"] == "keyed")
        }
    }

    @Test("file sources from the API are read only inside modules.sourceDirs, and a path outside learns nothing about its file")
    func sourceDirsConfine() async throws {
        let (workspace, _, writer, module) = try await Self.storeMode()
        defer { workspace.remove() }
        // A valid module outside sourceDirs, reached directly and through a link inside them.
        try workspace.write("elsewhere/auth.wasm", Samples.wasm("auth"))
        let outside = workspace.directory.appendingPathComponent("elsewhere/auth.wasm").path
        let link = workspace.directory.appendingPathComponent("modules/link.wasm").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside)

        func refusal(_ source: String) async -> QpilotError? {
            do {
                _ = try await writer.write(.put(MiddlewareSpec(name: "m", source: source)), expected: nil, actor: Self.actor)
                return nil
            } catch {
                return error
            }
        }
        for source in [outside, "/etc/passwd", "/etc/no-such-file", "../elsewhere/auth.wasm", "modules/../elsewhere/auth.wasm"] {
            let error = await refusal(source)
            #expect(error?.code == .invalidModule, "\(source)")
            #expect(error?.field == "middleware[0].source")
            #expect(error?.message.contains("is outside them. Add its folder to modules.sourceDirs") == true, "\(source): \(String(describing: error))")
        }
        // The same words whether the file exists or not: no oracle.
        let passwd = await refusal("/etc/passwd")?.message.replacingOccurrences(of: "/etc/passwd", with: "X")
        #expect(passwd == (await refusal("/etc/no-such-file")?.message.replacingOccurrences(of: "/etc/no-such-file", with: "X")))
        #expect(await refusal(link)?.message.contains("leads outside them") == true)
        // And the validate endpoint is held to the same folders.
        await #expect(throws: QpilotError.self) { try await writer.modules.check(source: outside, sha256: nil) }
        _ = try await writer.modules.check(source: module, sha256: nil)
        #expect(await refusal(module) == nil)
        #expect(try await writer.store.head()?.number == 1)
    }

    @Test("delivery file through the API needs modules.sharedDir; nothing is written beside qpilot.yaml")
    func fileDeliveryNeedsSharedDir() async throws {
        let (workspace, _, writer, module) = try await Self.storeMode()
        defer { workspace.remove() }
        do {
            _ = try await writer.write(.put(MiddlewareSpec(name: "auth", source: module, delivery: .file)), expected: nil, actor: Self.actor)
            Issue.record("the write should be refused")
        } catch {
            #expect(error.code == .invalidModule)
            #expect(error.field == "middleware[0].delivery")
            #expect(error.message.contains("modules.sharedDir is not set"), "\(error.message)")
        }
        let beside = try FileManager.default.contentsOfDirectory(atPath: workspace.directory.path).filter { $0.hasSuffix(".wasm") }
        #expect(beside.isEmpty, "no module written into qpilot.yaml's folder: \(beside)")
        #expect(try await writer.store.head() == nil)
    }

    @Test("one write cannot ask for unbounded work: fleets per middleware, fleets in all and chain length are capped")
    func amplification() async throws {
        let (workspace, _, writer, module) = try await Self.storeMode()
        defer { workspace.remove() }
        func refusal(_ write: ChainWrite) async -> QpilotError? {
            do {
                _ = try await writer.write(write, expected: nil, actor: Self.actor)
                return nil
            } catch {
                return error
            }
        }
        let wide = MiddlewareSpec(name: "wide", source: module, fleets: (0...MiddlewareRules.maxFleetsPerMiddleware).map { "f\($0)" })
        #expect(await refusal(.put(wide))?.code == .invalid)
        let many = (0..<11).map { group in
            MiddlewareSpec(name: "m\(group)", source: module, fleets: (0..<100).map { "g\(group)-\($0)" })
        }
        let tooManyFleets = await refusal(.apply(many))
        #expect(tooManyFleets?.code == .invalid)
        #expect(tooManyFleets?.message.contains("names 1100 fleets") == true, "\(String(describing: tooManyFleets))")
        let long = (0...MiddlewareRules.maxMiddleware).map { MiddlewareSpec(name: "m\($0)", source: module, enabled: false) }
        #expect(await refusal(.apply(long))?.code == .invalid)
        #expect(try await writer.store.head() == nil, "nothing was written")
    }

    @Test("a middleware's resource is encoded once for every fleet that has it")
    func sharedEncoding() async throws {
        let (workspace, cache, writer, module) = try await Self.storeMode()
        defer { workspace.remove() }
        let spec = MiddlewareSpec(name: "auth", source: module, fleets: ["a", "b", "c"])
        _ = try await writer.write(.put(spec), expected: nil, actor: Self.actor)
        let resources = try ["a", "b", "c"].map { fleet in
            try #require(cache.snapshot(for: fleet)?.resources(of: .extensionConfig)["qpilot.middleware.auth"])
        }
        let addresses = resources.map { $0.body.value.withUnsafeBytes { UInt(bitPattern: $0.baseAddress) } }
        #expect(Set(addresses).count == 1, "one buffer shared by the three fleets' snapshots")
    }

    @Test("in file mode the API does not write")
    func fileMode() async throws {
        let workspace = try Workspace()
        defer { workspace.remove() }
        try workspace.write("auth.wasm", Samples.wasm("auth"))
        try workspace.writeConfig("dataDir: data\nmiddleware:\n- name: auth\n  source: auth.wasm\n")
        let writer = try workspace.writer(cache: SnapshotCache())
        try await writer.reload().get()
        do {
            _ = try await writer.write(.delete(name: "auth"), expected: nil, actor: Self.actor)
            Issue.record("file mode must refuse writes")
        } catch {
            #expect(error.code == .fileMode)
        }
        let chain = try await writer.chain()
        #expect(chain.mode == .file)
        #expect(chain.middleware.map(\.name) == ["auth"])
    }

    @Test("a write whose turn does not come in time is refused as busy and changes nothing; one that waits less goes through")
    func busyWriterRefuses() async throws {
        let (workspace, _, writer, module) = try await Self.storeMode()
        defer { workspace.remove() }
        let spec = MiddlewareSpec(name: "auth", source: module, phase: .authn)
        // Something holds the turn until the test lets it go (as a slow reload would).
        let (release, gate) = AsyncStream.makeStream(of: Void.self)
        let holder = Task { await writer.takingTurns { for await _ in release {} } }
        while await !writer.busy { try await Task.sleep(for: .milliseconds(10)) }
        await #expect(throws: QpilotError.self) {
            try await writer.takingWriteTurn(waitingAtMost: .milliseconds(200)) { () async throws(QpilotError) in
                _ = try await writer.writeNow(.put(spec), expected: nil, actor: Self.actor)
            }
        }
        do {
            try await writer.takingWriteTurn(waitingAtMost: .milliseconds(100)) { () async throws(QpilotError) in }
            Issue.record("the turn was free although another call held it")
        } catch {
            #expect(error.code == .busy)
            #expect(error.message.contains("nothing changed"))
        }
        #expect(try await writer.store.head() == nil, "the refused write left nothing")
        gate.finish()
        let committed = try await writer.takingWriteTurn(waitingAtMost: .seconds(10)) { () async throws(QpilotError) in
            try await writer.writeNow(.put(spec), expected: nil, actor: Self.actor)
        }
        #expect(committed.revision == 1)
        await holder.value
    }
}

@Suite("Deadlines")
struct DeadlineTests {
    @Test("the work's value when it is in time; nil at the deadline when it is not, without waiting for it, and the work is cancelled")
    func valueWithin() async throws {
        #expect(await value(of: Task { 7 }, within: .seconds(5)) == 7)
        let slow = Task { () -> Int in
            try? await Task.sleep(for: .seconds(30))
            return Task.isCancelled ? -1 : 1
        }
        let start = ContinuousClock.now
        #expect(await value(of: slow, within: .milliseconds(100)) == nil)
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(await slow.value == -1, "the late work was cancelled")
    }
}
