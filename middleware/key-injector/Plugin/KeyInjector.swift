// key-injector: swaps internal API keys for real ones, per-key rules deciding which hosts,
// methods and paths each internal key may reach. Configuration: KeyInjectorConfig.swift.
import ProxyWasm

@main
enum KeyInjector {
    static func main() {
        setRootContext { KeyInjectorRoot() }
    }
}

final class KeyInjectorRoot: RootContext {
    private(set) var config: KeyInjectorConfig? = nil
    private(set) var metrics: KeyInjectorMetrics? = nil

    override func onConfigure(configuration: [UInt8]) -> Bool {
        switch KeyInjectorConfig.parse(configuration) {
        case .failure(let error):
            Log.error("key-injector: configuration rejected: \(error.message)")
            return false
        case .success(let parsed):
            config = parsed
            metrics = KeyInjectorMetrics(keys: parsed.policy.keys)
            let names = parsed.policy.keys.map { $0.name }.joined(separator: ", ")
            Log.info("key-injector: configured, \(parsed.policy.keys.count) keys (\(names)), unknown keys: \(parsed.unknownKeys.rawValue)")
            return true
        }
    }

    override func makeHTTPContext() -> HTTPContext? {
        guard let config, let metrics else { return nil }
        return KeyInjectorExchange(config: config, metrics: metrics)
    }
}

/// Counters by key name; never by key.
struct KeyInjectorMetrics {
    let allowed: [Counter]
    let denied: [Counter]
    let unknownKey: Counter
    let heap = HeapGauges(prefix: "key_injector")

    init(keys: [KeyEntry]) {
        allowed = keys.map { Counter("key_injector.allowed.\($0.name)") }
        denied = keys.map { Counter("key_injector.denied.\($0.name)") }
        unknownKey = Counter("key_injector.unknown_key")
    }
}
