// callout: before each request goes upstream, asks a service whether it may, with an HTTP
// callout through qpilot's `qpilot_callout` cluster. Configuration: {"url": "http://host:port/check"}.
// The service's answer status goes to the upstream as `x-check-status`; a 403 from the service
// stops the request.
import ProxyWasm

@main
enum Callout {
    static func main() {
        setRootContext { CalloutRoot() }
    }
}

final class CalloutRoot: RootContext {
    var url = ""

    override func onConfigure(configuration: [UInt8]) -> Bool {
        guard let document = try? JSON.parse(configuration), let url = document["url"]?.stringValue else {
            Log.error("callout: expected {\"url\": \"http://host:port/path\"}")
            return false
        }
        if case .failure(let error) = CalloutURL.parse(url) {
            Log.error("callout: 'url': \(error.message)")
            return false
        }
        self.url = url
        return true
    }

    override func makeHTTPContext() -> HTTPContext? {
        CalloutExchange(url: url)
    }
}

final class CalloutExchange: HTTPContext {
    let url: String

    init(url: String) {
        self.url = url
    }

    override func onRequestHeaders(headerCount: Int, endOfStream: Bool) -> Action {
        let method = requestHeaders[":method"] ?? "GET"
        do {
            try HTTPCall.send(method: "GET", url: url, headers: [HeaderPair("x-original-method", method)]) { response in
                self.checked(response)
            }
        } catch {
            Log.warn("callout: \(error.message); letting the request through")
            return .continue
        }
        return .pause  // the whole request waits until checked(_:) resumes it
    }

    private func checked(_ response: HTTPCallResponse) {
        guard let status = response.status else {
            Log.warn("callout: the check service did not answer; letting the request through")
            requestHeaders["x-check-status"] = "unavailable"
            resumeRequest()
            return
        }
        if status == 403 {
            sendLocalResponse(status: 403, body: "denied by the check service\n", details: "callout_denied")
            return
        }
        requestHeaders["x-check-status"] = "\(status)"
        resumeRequest()
    }
}
