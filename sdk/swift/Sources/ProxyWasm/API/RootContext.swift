/// One configured instance of a middleware (a Proxy-Wasm root context).
///
/// Envoy may run several filter instances of the same module in one VM (same code, same
/// `vm_config`); each gets its own root context and its own ``onConfigure(configuration:)``.
/// Keep configuration in the root context, never in globals, and hand it to the HTTP contexts
/// it creates.
///
/// Subclass it, override what you need, and register a factory in your `@main` type:
///
/// ```swift
/// @main
/// enum Plugin {
///     static func main() { ProxyWasm.setRootContext { MyRoot() } }
/// }
/// ```
open class RootContext {
    /// The host's id for this context; set by the SDK right after creation.
    public internal(set) var contextID: UInt32 = 0

    /// Creates the context. Host calls are not allowed here (Envoy is still starting the VM);
    /// do that work in ``onConfigure(configuration:)``.
    public init() {}

    /// Called once when the VM starts, with `vm_config.configuration`. Returning false fails
    /// the VM.
    open func onVMStart(vmConfiguration: [UInt8]) -> Bool { true }

    /// Called with the plugin configuration (the filter's `configuration` bytes) whenever
    /// Envoy configures this instance. Returning false rejects the configuration: Envoy refuses
    /// it, and with qpilot the update is NACKed while the previous configuration keeps serving.
    open func onConfigure(configuration: [UInt8]) -> Bool { true }

    /// Called every tick once ``setTickPeriod(milliseconds:)`` has set a period.
    open func onTick() {}

    /// Creates the context for a new HTTP exchange. The default passes every exchange through
    /// untouched.
    open func makeHTTPContext() -> HTTPContext? { nil }

    /// Called when Envoy is about to remove this instance. Return false to finish outstanding
    /// work first (for example a last report), then call ``markDone()``.
    open func onDone() -> Bool { true }

    /// Asks Envoy to call ``onTick()`` every `milliseconds` (0 stops the timer).
    @discardableResult
    public func setTickPeriod(milliseconds: UInt32) -> HostStatus {
        withEffectiveContext(contextID) {
            HostStatus(rawValue: proxy_set_tick_period_milliseconds(milliseconds))
        }
    }

    /// Tells Envoy that work postponed by returning false from ``onDone()`` is finished.
    public func markDone() {
        withEffectiveContext(contextID) { _ = proxy_done() }
    }
}
