// The SDK's bookkeeping: which Swift object stands for which host context, and which callouts
// are outstanding. A Proxy-Wasm VM runs on one Envoy worker thread and never re-enters, so plain
// globals are safe here.

enum Runtime {
    /// Makes the root context for each filter instance; set by `setRootContext` from `main`.
    nonisolated(unsafe) static var rootFactory: (() -> RootContext)? = nil
    /// Root contexts by id.
    nonisolated(unsafe) static var roots: [UInt32: RootContext] = [:]
    /// HTTP contexts by id.
    nonisolated(unsafe) static var streams: [UInt32: HTTPContext] = [:]
    /// HTTP contexts whose `onDone` has run.
    nonisolated(unsafe) static var finished: Set<UInt32> = []
    /// Outstanding callouts by token (tokens are unique per VM).
    nonisolated(unsafe) static var pendingCalls: [UInt32: PendingCall] = [:]
    /// The context the host considers current: the one whose callback is running, or the one
    /// the SDK switched to.
    nonisolated(unsafe) static var activeContextID: UInt32 = 0
}

/// Runs `body` with `contextID` as the host's effective context, and switches back afterwards.
/// Host calls act on the effective context, so a callout handler that resumes a request must
/// run with that request's context.
@inline(__always)
func withEffectiveContext<R>(_ contextID: UInt32, _ body: () -> R) -> R {
    let previous = Runtime.activeContextID
    if previous == contextID || contextID == 0 {
        return body()
    }
    _ = proxy_set_effective_context(contextID)
    Runtime.activeContextID = contextID
    defer {
        if previous != 0 {
            _ = proxy_set_effective_context(previous)
        }
        Runtime.activeContextID = previous
    }
    return body()
}

/// Registers the factory for root contexts. Call it from your `@main` type's `main()`, which
/// Envoy runs once when it starts the VM.
///
/// ```swift
/// @main
/// enum Plugin {
///     static func main() { setRootContext { HelloHeaderRoot() } }
/// }
/// ```
public func setRootContext(_ factory: @escaping () -> RootContext) {
    Runtime.rootFactory = factory
}
