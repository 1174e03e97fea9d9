// hello-header: adds `x-hello: <greeting>` to every request and `x-served-by: hello-header` to
// every response. The greeting comes from the plugin configuration (plain text), "world" if
// none is given.
import ProxyWasm

@main
enum HelloHeader {
    static func main() {
        setRootContext { HelloHeaderRoot() }
    }
}

final class HelloHeaderRoot: RootContext {
    var greeting = "world"

    override func onConfigure(configuration: [UInt8]) -> Bool {
        if !configuration.isEmpty {
            greeting = String(decoding: configuration, as: UTF8.self)
        }
        Log.info("hello-header: configured, greeting \(greeting)")
        return true
    }

    override func makeHTTPContext() -> HTTPContext? {
        HelloHeaderExchange(greeting: greeting)
    }
}

final class HelloHeaderExchange: HTTPContext {
    let greeting: String

    init(greeting: String) {
        self.greeting = greeting
    }

    override func onRequestHeaders(headerCount: Int, endOfStream: Bool) -> Action {
        requestHeaders["x-hello"] = greeting
        return .continue
    }

    override func onResponseHeaders(headerCount: Int, endOfStream: Bool) -> Action {
        responseHeaders.add("x-served-by", "hello-header")
        return .continue
    }
}
