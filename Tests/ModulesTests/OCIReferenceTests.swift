import Modules
import Testing

@Suite("OCI references")
struct OCIReferenceTests {
    @Test(
        "references by the distribution grammar parse into registry, repository, tag and digest",
        arguments: [
            ("ghcr.io/acme/pii-guard:1.2", "ghcr.io", "acme/pii-guard", "1.2"),
            ("127.0.0.1:5000/wasm/add-header", "127.0.0.1:5000", "wasm/add-header", "latest"),
            ("[::1]:5000/r:t", "[::1]:5000", "r", "t"),
            ("localhost/a.b_c-d/e:v_1.0-rc", "localhost", "a.b_c-d/e", "v_1.0-rc"),
        ])
    func valid(text: String, registry: String, repository: String, tag: String) throws {
        let reference = try OCIReference(parsing: text)
        #expect(reference.registry == registry)
        #expect(reference.repository == repository)
        #expect(reference.tag == tag)
    }

    @Test(
        "a registry that is not host[:port] is refused with a message, never trapped on",
        arguments: ["a b/repo:tag", "host:0/r", "host:99999/r", "host:5x/r", "-bad.example/r", "bad-.example/r", "ho$t/r",
            "exa_mple.com/r", "[::1/r", "[::1]x/r", "[]/r", "a..b/r", ":5000/r"])
    func invalidRegistry(text: String) {
        let error = #expect(throws: ModuleError.self) { try OCIReference(parsing: text) }
        #expect(error?.message.contains("is not a registry") == true, "\(String(describing: error))")
        #expect(throws: ModuleError.self) { try ModuleSource(parsing: "oci://\(text)", relativeTo: nil) }
    }
}
