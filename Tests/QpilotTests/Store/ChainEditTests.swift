import AdminServer
import QpilotAPI
import Translator
@testable import QpilotServer
import Testing

@Suite("Chain edits and secret references")
struct ChainEditTests {
    static let a = MiddlewareSpec(name: "a", source: "/a.wasm")
    static let b = MiddlewareSpec(name: "b", source: "/b.wasm", config: .string("x"))

    @Test("put replaces in place or appends; create refuses a name that exists")
    func putAndCreate() throws {
        var changed = Self.b
        changed.priority = 5
        #expect(try ChainEdit.apply(.put(changed), to: [Self.a, Self.b]).chain == [Self.a, changed])
        #expect(try ChainEdit.apply(.put(Self.b), to: [Self.a]).chain == [Self.a, Self.b])
        #expect(try ChainEdit.apply(.put(Self.b), to: [Self.a]).action == "push b")
        let error = #expect(throws: AdminError.self) { try ChainEdit.apply(.create(Self.a), to: [Self.a]) }
        #expect(error?.status == 409)
        #expect(error?.code == "duplicate")
    }

    @Test("delete, enable and disable name a middleware that exists; enable restores the pushed document")
    func deleteAndToggle() throws {
        #expect(try ChainEdit.apply(.delete(name: "a"), to: [Self.a, Self.b]).chain == [Self.b])
        #expect((#expect(throws: AdminError.self) { try ChainEdit.apply(.delete(name: "zz"), to: [Self.a]) })?.status == 404)
        let disabled = try ChainEdit.apply(.setEnabled(name: "b", enabled: false), to: [Self.a, Self.b]).chain
        #expect(disabled[1].isEnabled == false)
        #expect(try ChainEdit.apply(.setEnabled(name: "b", enabled: true), to: disabled).chain == [Self.a, Self.b])
    }

    @Test("apply refuses a name twice; rollback needs the revision's chain")
    func applyAndRollback() throws {
        let error = #expect(throws: AdminError.self) { try ChainEdit.apply(.apply([Self.a, Self.b, Self.a]), to: []) }
        #expect(error?.code == "duplicate")
        #expect(error?.message.contains("'a' twice") == true)
        #expect(try ChainEdit.apply(.rollback(to: 3), to: [Self.a], rollbackChain: [Self.b]) == ([Self.b], "rollback to 3"))
        #expect((#expect(throws: AdminError.self) { try ChainEdit.apply(.rollback(to: 9), to: [Self.a]) })?.code == "unknown_revision")
    }

    @Test("${secret:NAME} references are found and replaced, JSON-escaped; a missing one names itself")
    func secretReferences() throws {
        let config = #"{"a": "${secret:one}", "b": "Bearer ${secret:two}", "c": "${secret:one}"}"#
        #expect(SecretReferences.names(in: config) == ["one", "two", "one"])
        let resolved = try SecretReferences.resolve(config, secrets: ["one": "x\"y", "two": "line\nbreak"])
        #expect(resolved == #"{"a": "x\"y", "b": "Bearer line\nbreak", "c": "x\"y"}"#)
        #expect(SecretReferences.names(in: "no references, ${secret:unclosed") == [])
        let missing = #expect(throws: SecretReferences.MissingSecret.self) {
            try SecretReferences.resolve(config, secrets: ["one": "v"])
        }
        #expect(missing?.name == "two")
    }

    @Test("a spec becomes a checked entry with qpilot.yaml's defaults; bad values name their field")
    func entries() throws {
        let entry = try Self.b.entry(at: 0)
        #expect(entry.failurePolicy == .closed)
        #expect(entry.pullPolicy == .IfNotPresent)
        #expect(entry.config == "x")
        var bad = Self.a
        bad.phase = "later"
        let error = #expect(throws: AdminError.self) { try bad.entry(at: 2) }
        #expect(error?.message.contains("middleware[2] 'a': phase: 'later' is not one of: authn, authz, stats") == true)
        bad = MiddlewareSpec(name: "no spaces", source: "/x.wasm")
        #expect((#expect(throws: AdminError.self) { try bad.entry(at: 0) })?.details?["field"] == "name")
    }
}
