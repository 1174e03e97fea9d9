import ProxyWasm
import Testing

@Suite("Callout URLs")
struct CalloutURLTests {
    @Test("splits a URL into scheme, authority and path", arguments: [
        ("http://collector:9000/report?batch=1", "http", "collector:9000", "/report?batch=1"),
        ("HTTPS://api.example.com", "https", "api.example.com", "/"),
        ("http://[::1]:8080/x#frag", "http", "[::1]:8080", "/x"),
        ("http://host?q=1", "http", "host", "/?q=1"),
    ])
    func parses(url: String, scheme: String, authority: String, path: String) throws {
        let parsed = try CalloutURL.parse(url).get()
        #expect(parsed.scheme == scheme)
        #expect(parsed.authority == authority)
        #expect(parsed.path == path)
    }

    @Test("refuses what a callout cannot use", arguments: [
        "collector:9000/report",
        "/relative",
        "ftp://host/file",
        "http:///path",
        "http://user:pw@host/",
        "http://bad host/",
    ])
    func refuses(url: String) {
        #expect(throws: CalloutURLError.self) { try CalloutURL.parse(url).get() }
    }
}
