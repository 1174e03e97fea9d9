import EnvoyAPI
import QpilotAPI
import SwiftProtobuf

extension Translator {
    /// The chain entry of a middleware: ECDS by name, with a default that applies its failure
    /// policy until a config arrives: deny-all when it fails closed, a no-op when it fails open.
    static func middlewareFilter(_ middleware: Middleware) -> HttpFilter {
        var discovery = Envoy_Config_Core_V3_ExtensionConfigSource()
        discovery.configSource = adsSource()
        discovery.defaultConfig = pack(defaultConfig(middleware.failurePolicy))
        // Envoy refuses the listener unless the default's type is listed too.
        discovery.typeUrls = [typeURL(WasmFilter.self), typeURL(RBACFilter.self)]
        var filter = HttpFilter()
        filter.name = Names.filter(middleware.name)
        filter.configDiscovery = discovery
        return filter
    }

    /// RBAC with rules but no policy matches nothing, so it denies every request (403). RBAC with
    /// no rules enforces nothing, so it is a no-op.
    static func defaultConfig(_ policy: FailurePolicy) -> RBACFilter {
        var rbac = RBACFilter()
        if policy == .closed {
            var rules = Envoy_Config_Rbac_V3_RBAC()
            rules.action = .allow
            rbac.rules = rules
        }
        return rbac
    }

    /// The ECDS resource of a middleware: a Wasm filter whose VM is the module.
    static func wasmExtensionConfig(
        _ middleware: Middleware, moduleEndpoint: DesiredState.ModuleEndpoint
    ) -> Envoy_Config_Core_V3_TypedExtensionConfig {
        var code = Envoy_Config_Core_V3_AsyncDataSource()
        switch middleware.delivery {
        case .inline(let bytes):
            var local = Envoy_Config_Core_V3_DataSource()
            local.inlineBytes = bytes
            code.local = local
        case .file(let path):
            var local = Envoy_Config_Core_V3_DataSource()
            local.filename = path
            code.local = local
        case .remote:
            var uri = Envoy_Config_Core_V3_HttpUri()
            uri.uri = "\(moduleEndpoint.ca == nil ? "http" : "https")://\(hostPort(moduleEndpoint))/modules/sha256/\(middleware.sha256)"
            uri.cluster = Names.moduleCluster
            uri.timeout = duration(seconds: 30)
            var backoff = Envoy_Config_Core_V3_BackoffStrategy()
            backoff.baseInterval = duration(seconds: 1)
            backoff.maxInterval = duration(seconds: 10)
            var retry = Envoy_Config_Core_V3_RetryPolicy()
            retry.retryBackOff = backoff
            retry.numRetries = Google_Protobuf_UInt32Value(5)
            var remote = Envoy_Config_Core_V3_RemoteDataSource()
            remote.httpUri = uri
            remote.sha256 = middleware.sha256
            remote.retryPolicy = retry
            code.remote = remote
        }

        var vm = Envoy_Extensions_Wasm_V3_VmConfig()
        // One VM per middleware: two plugins sharing a VM would share its root context.
        vm.vmID = middleware.name
        vm.runtime = "envoy.wasm.runtime.v8"
        vm.code = code
        if case .remote = middleware.delivery {
            // Without it Envoy ACKs a module it has not fetched and runs without the filter. With
            // it, the first config naming an uncached module is NACKed while Envoy fetches it, and
            // qpilot sends it again once the module endpoint saw the download (FetchRetry).
            vm.nackOnCodeCacheMiss = true
        }

        var plugin = Envoy_Extensions_Wasm_V3_PluginConfig()
        plugin.name = middleware.name
        plugin.vmConfig = vm
        plugin.configuration = pack(Google_Protobuf_StringValue(middleware.configuration))
        plugin.failurePolicy = middleware.failurePolicy == .closed ? .failClosed : .failOpen

        var wasm = WasmFilter()
        wasm.config = plugin
        var config = Envoy_Config_Core_V3_TypedExtensionConfig()
        config.name = Names.filter(middleware.name)
        config.typedConfig = pack(wasm)
        return config
    }

    /// A middleware's ECDS resource whose module Envoy fetches by URL (`remote` delivery),
    /// decoded once so that each stream's rendering only sets the URL.
    public struct RemoteModule: Sendable {
        /// The module's sha256.
        public let sha256: String
        let config: Envoy_Config_Core_V3_TypedExtensionConfig
        let wasm: WasmFilter
        let remote: Envoy_Config_Core_V3_RemoteDataSource

        /// The same ECDS resource with `query` as the module URL's query: a stream's own rendering
        /// (its token and send counter, see XDS `Resource.Fetched`). Envoy keys its module cache by
        /// sha256, so the query never causes another download of a module it holds.
        public func withQuery(_ query: String) -> Envoy_Config_Core_V3_TypedExtensionConfig {
            var remote = remote
            remote.httpUri.uri += "?" + query
            var wasm = wasm
            wasm.config.vmConfig.code.remote = remote
            var rendered = config
            rendered.typedConfig = pack(wasm)
            return rendered
        }
    }

    /// The resource's remote module, or nil for a resource of any other delivery or kind.
    public static func remoteModule(of config: Envoy_Config_Core_V3_TypedExtensionConfig) -> RemoteModule? {
        guard config.typedConfig.typeURL == typeURL(WasmFilter.self),
            let wasm = try? WasmFilter(unpackingAny: config.typedConfig),
            case .remote(let remote) = wasm.config.vmConfig.code.specifier
        else { return nil }
        return RemoteModule(sha256: remote.sha256, config: config, wasm: wasm, remote: remote)
    }

    static func hostPort(_ endpoint: DesiredState.ModuleEndpoint) -> String {
        endpoint.host.contains(":") ? "[\(endpoint.host)]:\(endpoint.port)" : "\(endpoint.host):\(endpoint.port)"
    }
}
