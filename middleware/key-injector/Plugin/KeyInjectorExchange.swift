import ProxyWasm

/// One request through key-injector: find the internal key, decide, swap or refuse.
final class KeyInjectorExchange: HTTPContext {
    private let config: KeyInjectorConfig
    private let metrics: KeyInjectorMetrics

    init(config: KeyInjectorConfig, metrics: KeyInjectorMetrics) {
        self.config = config
        self.metrics = metrics
    }

    override func onRequestHeaders(headerCount: Int, endOfStream: Bool) -> Action {
        let path = requestHeaders[":path"] ?? "/"
        var fromQuery = false
        var presented: [UInt8]? = nil
        if let value = requestHeaders[config.header] {
            presented = Credentials.key(inHeaderValue: value, scheme: config.scheme)
        }
        if presented == nil, let parameter = config.queryParameter {
            presented = Credentials.queryValue(named: parameter, in: path)
            fromQuery = presented != nil
        }
        guard let presented else {
            return .continue  // no internal key: not ours to judge
        }
        let method = requestHeaders[":method"] ?? ""
        let authority = requestHeaders[":authority"] ?? ""
        switch config.policy.decide(presented: presented, method: method, authority: authority, path: path) {
        case .unknownKey:
            metrics.unknownKey.increment()
            guard config.unknownKeys == .block else { return .continue }
            Log.info("key-injector: refused a request to \(DomainPattern.stripPort(authority)): unknown key")
            return deny("unknown API key")
        case .denied(let key, let reason):
            metrics.denied[key].increment()
            Log.info("key-injector: refused: \(reason)")
            return deny(reason)
        case .allowed(let key, _):
            metrics.allowed[key].increment()
            inject(config.policy.keys[key], fromQuery: fromQuery, path: path)
            return .continue
        }
    }

    override func onDone() {
        metrics.heap.publish()
    }

    private func inject(_ entry: KeyEntry, fromQuery: Bool, path: String) {
        if let target = entry.injectHeader {
            if fromQuery, let parameter = config.queryParameter {
                requestHeaders[":path"] = Credentials.replacingQueryValue(named: parameter, in: path, with: nil)
            } else if target != config.header {
                requestHeaders[config.header] = nil
            }
            requestHeaders[target] = Credentials.headerValue(key: entry.realKey, scheme: entry.injectScheme ?? "")
        } else if fromQuery, let parameter = config.queryParameter {
            requestHeaders[":path"] = Credentials.replacingQueryValue(named: parameter, in: path, with: entry.realKey)
        } else {
            requestHeaders[config.header] = Credentials.headerValue(key: entry.realKey, scheme: entry.injectScheme ?? config.scheme)
        }
    }

    private func deny(_ reason: String) -> Action {
        sendLocalResponse(
            status: 403,
            body: JSONValue.object([JSONMember("error", .string("forbidden by key-injector")), JSONMember("reason", .string(reason))]).serialized,
            headers: [HeaderPair("content-type", "application/json")],
            details: "key_injector_denied")
    }
}
