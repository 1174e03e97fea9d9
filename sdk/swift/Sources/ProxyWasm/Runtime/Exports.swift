// The functions Envoy calls: the Proxy-Wasm ABI v0.2.1 callbacks (proxy-wasm/spec
// `abi-versions/v0.2.1/README.md`). `@_expose(wasm, …)` makes each one a module export;
// `@_cdecl` gives it the C calling convention the host expects.
//
// Booleans cross the ABI as i32 (0 or 1); actions as i32 (0 continue, 1 pause).

// MARK: Markers and start-up

/// Marks the module as Proxy-Wasm ABI v0.2.1. Envoy looks for the export; it never calls it.
@_expose(wasm, "proxy_abi_version_0_2_1")
@_cdecl("proxy_abi_version_0_2_1")
func proxyABIVersion_0_2_1() {}

/// The middleware's `@main` entry point. LLVM names a wasm32 `main(argc, argv)` this way.
@_extern(c, "__main_argc_argv")
func middlewareMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32

/// Envoy calls `_initialize` (a WASI "reactor" start) once per VM, before any context exists.
/// Running `main` here lets the middleware register its root context factory.
@_expose(wasm, "_initialize")
@_cdecl("_initialize")
func proxyWasmInitialize() {
    _ = middlewareMain(0, nil)
}

// MARK: Contexts

@_expose(wasm, "proxy_on_context_create")
@_cdecl("proxy_on_context_create")
func proxyOnContextCreate(_ contextID: UInt32, _ parentID: UInt32) {
    Runtime.activeContextID = contextID
    if parentID == 0 {
        guard let factory = Runtime.rootFactory else {
            Log.critical("proxy-wasm: no root context registered; call setRootContext from the @main type's main()")
            return
        }
        let root = factory()
        root.contextID = contextID
        Runtime.roots[contextID] = root
        return
    }
    let stream = Runtime.roots[parentID]?.makeHTTPContext() ?? PassThroughHTTPContext()
    stream.contextID = contextID
    stream.rootContextID = parentID
    Runtime.streams[contextID] = stream
}

@_expose(wasm, "proxy_on_vm_start")
@_cdecl("proxy_on_vm_start")
func proxyOnVMStart(_ rootID: UInt32, _ configurationSize: Int) -> UInt32 {
    Runtime.activeContextID = rootID
    guard let root = Runtime.roots[rootID] else { return 0 }
    let configuration = configurationSize > 0 ? BodyBuffer.vmConfiguration.read(count: configurationSize) : []
    return root.onVMStart(vmConfiguration: configuration) ? 1 : 0
}

@_expose(wasm, "proxy_on_configure")
@_cdecl("proxy_on_configure")
func proxyOnConfigure(_ rootID: UInt32, _ configurationSize: Int) -> UInt32 {
    Runtime.activeContextID = rootID
    guard let root = Runtime.roots[rootID] else { return 0 }
    let configuration = configurationSize > 0 ? BodyBuffer.pluginConfiguration.read(count: configurationSize) : []
    return root.onConfigure(configuration: configuration) ? 1 : 0
}

@_expose(wasm, "proxy_on_tick")
@_cdecl("proxy_on_tick")
func proxyOnTick(_ rootID: UInt32) {
    Runtime.activeContextID = rootID
    Runtime.roots[rootID]?.onTick()
}

/// For an HTTP context: the exchange is over. For a root context: Envoy wants to remove it.
@_expose(wasm, "proxy_on_done")
@_cdecl("proxy_on_done")
func proxyOnDone(_ contextID: UInt32) -> UInt32 {
    Runtime.activeContextID = contextID
    if let root = Runtime.roots[contextID] {
        return root.onDone() ? 1 : 0
    }
    finishStream(contextID)
    return 1
}

/// Envoy's access-log moment: the response code, flags and duration are final.
@_expose(wasm, "proxy_on_log")
@_cdecl("proxy_on_log")
func proxyOnLog(_ contextID: UInt32) {
    Runtime.activeContextID = contextID
    finishStream(contextID)
}

@_expose(wasm, "proxy_on_delete")
@_cdecl("proxy_on_delete")
func proxyOnDelete(_ contextID: UInt32) {
    Runtime.activeContextID = contextID
    if Runtime.roots.removeValue(forKey: contextID) != nil {
        return
    }
    finishStream(contextID)
    Runtime.streams.removeValue(forKey: contextID)
    Runtime.finished.remove(contextID)
    // A callout whose exchange is gone has nobody to answer; its response is dropped.
    var orphaned: [UInt32] = []
    for (token, call) in Runtime.pendingCalls where call.contextID == contextID {
        orphaned.append(token)
    }
    for token in orphaned {
        Runtime.pendingCalls.removeValue(forKey: token)
    }
}

/// Runs `onDone` once per exchange, whichever of proxy_on_log, proxy_on_done and
/// proxy_on_delete comes first.
private func finishStream(_ contextID: UInt32) {
    guard let stream = Runtime.streams[contextID], !Runtime.finished.contains(contextID) else { return }
    Runtime.finished.insert(contextID)
    stream.onDone()
}

// MARK: HTTP steps

@_expose(wasm, "proxy_on_request_headers")
@_cdecl("proxy_on_request_headers")
func proxyOnRequestHeaders(_ contextID: UInt32, _ headerCount: Int, _ endOfStream: UInt32) -> UInt32 {
    Runtime.activeContextID = contextID
    guard let stream = Runtime.streams[contextID] else { return Action.continue.rawValue }
    return stream.onRequestHeaders(headerCount: headerCount, endOfStream: endOfStream != 0).rawValue
}

@_expose(wasm, "proxy_on_request_body")
@_cdecl("proxy_on_request_body")
func proxyOnRequestBody(_ contextID: UInt32, _ bodySize: Int, _ endOfStream: UInt32) -> UInt32 {
    Runtime.activeContextID = contextID
    guard let stream = Runtime.streams[contextID] else { return Action.continue.rawValue }
    return stream.onRequestBody(bodySize: bodySize, endOfStream: endOfStream != 0).rawValue
}

@_expose(wasm, "proxy_on_request_trailers")
@_cdecl("proxy_on_request_trailers")
func proxyOnRequestTrailers(_ contextID: UInt32, _ trailerCount: Int) -> UInt32 {
    Runtime.activeContextID = contextID
    guard let stream = Runtime.streams[contextID] else { return Action.continue.rawValue }
    return stream.onRequestTrailers(trailerCount: trailerCount).rawValue
}

@_expose(wasm, "proxy_on_response_headers")
@_cdecl("proxy_on_response_headers")
func proxyOnResponseHeaders(_ contextID: UInt32, _ headerCount: Int, _ endOfStream: UInt32) -> UInt32 {
    Runtime.activeContextID = contextID
    guard let stream = Runtime.streams[contextID] else { return Action.continue.rawValue }
    return stream.onResponseHeaders(headerCount: headerCount, endOfStream: endOfStream != 0).rawValue
}

@_expose(wasm, "proxy_on_response_body")
@_cdecl("proxy_on_response_body")
func proxyOnResponseBody(_ contextID: UInt32, _ bodySize: Int, _ endOfStream: UInt32) -> UInt32 {
    Runtime.activeContextID = contextID
    guard let stream = Runtime.streams[contextID] else { return Action.continue.rawValue }
    return stream.onResponseBody(bodySize: bodySize, endOfStream: endOfStream != 0).rawValue
}

@_expose(wasm, "proxy_on_response_trailers")
@_cdecl("proxy_on_response_trailers")
func proxyOnResponseTrailers(_ contextID: UInt32, _ trailerCount: Int) -> UInt32 {
    Runtime.activeContextID = contextID
    guard let stream = Runtime.streams[contextID] else { return Action.continue.rawValue }
    return stream.onResponseTrailers(trailerCount: trailerCount).rawValue
}

// MARK: Callouts

/// A callout's answer. It arrives on the ROOT context (Envoy issues callouts on the root
/// context's behalf), and its headers and body are only readable while the root context is
/// effective, so the SDK reads them first and then switches to the exchange that sent the call.
@_expose(wasm, "proxy_on_http_call_response")
@_cdecl("proxy_on_http_call_response")
func proxyOnHTTPCallResponse(
    _ rootID: UInt32, _ token: UInt32, _ headerCount: Int, _ bodySize: Int, _ trailerCount: Int
) {
    Runtime.activeContextID = rootID
    guard let call = Runtime.pendingCalls.removeValue(forKey: token) else { return }
    let response = HTTPCallResponse(
        headers: headerCount > 0 ? HeaderMap.httpCallResponseHeaders.pairs : [],
        body: bodySize > 0 ? BodyBuffer.httpCallResponseBody.read(count: bodySize) : [],
        trailers: trailerCount > 0 ? HeaderMap.httpCallResponseTrailers.pairs : [])
    if call.contextID != rootID && call.contextID != 0 {
        guard Runtime.streams[call.contextID] != nil,
            proxy_set_effective_context(call.contextID) == 0
        else {
            Log.debug("proxy-wasm: callout \(token) answered after its exchange ended; response dropped")
            return
        }
        Runtime.activeContextID = call.contextID
    }
    call.handler(response)
}
