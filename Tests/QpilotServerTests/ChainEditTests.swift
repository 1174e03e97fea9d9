import Foundation
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
        let error = #expect(throws: QpilotError.self) { try ChainEdit.apply(.create(Self.a), to: [Self.a]) }
        #expect(error?.code == .duplicate)
    }

    @Test("delete, enable and disable name a middleware that exists; enable restores the pushed document")
    func deleteAndToggle() throws {
        #expect(try ChainEdit.apply(.delete(name: "a"), to: [Self.a, Self.b]).chain == [Self.b])
        #expect((#expect(throws: QpilotError.self) { try ChainEdit.apply(.delete(name: "zz"), to: [Self.a]) })?.code == .notFound)
        let disabled = try ChainEdit.apply(.setEnabled(name: "b", enabled: false), to: [Self.a, Self.b]).chain
        #expect(disabled[1].isEnabled == false)
        #expect(try ChainEdit.apply(.setEnabled(name: "b", enabled: true), to: disabled).chain == [Self.a, Self.b])
    }

    @Test("apply refuses a name twice; rollback needs the revision's chain")
    func applyAndRollback() throws {
        let error = #expect(throws: QpilotError.self) { try ChainEdit.apply(.apply([Self.a, Self.b, Self.a]), to: []) }
        #expect(error?.code == .duplicate)
        #expect(error?.message.contains("'a' twice") == true)
        #expect(try ChainEdit.apply(.rollback(to: 3), to: [Self.a], rollbackChain: [Self.b]) == ([Self.b], "rollback to 3"))
        #expect((#expect(throws: QpilotError.self) { try ChainEdit.apply(.rollback(to: 9), to: [Self.a]) })?.code == .unknownRevision)
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
        let entry = try ChainEntry(spec: Self.b, index: 0)
        #expect(entry.failurePolicy == .closed)
        #expect(entry.pullPolicy == .ifNotPresent)
        #expect(entry.config == "x")
        #expect(entry.place.index == 0)
        let bad = MiddlewareSpec(name: "no spaces", source: "/x.wasm")
        let error = #expect(throws: QpilotError.self) { try ChainEntry(spec: bad, index: 2) }
        #expect(error?.code == .invalid)
        #expect(error?.details["field"] == "name")
        #expect(error?.message.hasPrefix("middleware[2] 'no spaces': name:") == true)
        let pinned = MiddlewareSpec(name: "a", source: "/a.wasm", sha256: "SHA256:" + String(repeating: "AB", count: 32))
        #expect(try ChainEntry(spec: pinned, index: 0).sha256 == String(repeating: "ab", count: 32))
    }

    @Test("an enum value outside its vocabulary is refused when the document is read, naming value and choices")
    func vocabulary() throws {
        let json = Data(#"{"name": "a", "source": "/a.wasm", "phase": "later"}"#.utf8)
        let error = #expect(throws: DecodingError.self) { try JSONDecoder().decode(MiddlewareSpec.self, from: json) }
        guard case .dataCorrupted(let context)? = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        let unknown = try #require(context.underlyingError as? UnknownValue)
        #expect(unknown.description == "'later' is not one of: authn, authz, stats")
        #expect(context.codingPath.map(\.stringValue) == ["phase"])
        // The same spellings as before, for every vocabulary.
        let spec = MiddlewareSpec(
            name: "a", source: "/a.wasm", pullPolicy: .always, failurePolicy: .open, phase: .authz, delivery: .remote)
        let encoded = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        for field in [#""pullPolicy":"Always""#, #""failurePolicy":"open""#, #""phase":"authz""#, #""delivery":"remote""#] {
            #expect(encoded.contains(field), "\(encoded)")
        }
    }
}
