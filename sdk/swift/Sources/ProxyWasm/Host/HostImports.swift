// The Proxy-Wasm ABI v0.2.1 host functions, as Envoy (proxy-wasm-cpp-host) provides them.
//
// Signatures follow proxy-wasm/spec `abi-versions/v0.2.1/README.md` and proxy-wasm-cpp-host
// `include/proxy-wasm/exports.h`. On wasm32 every pointer, size and id is an i32; only metric
// values are i64. Each import needs both attributes: `@_extern(wasm, …)` names the import, and
// `@_extern(c)` gives it the C calling convention. Without `@_extern(c)` Swift adds its own
// context parameters, the wasm signature no longer matches, and Envoy refuses the module with
// "import type mismatch".
//
// Only the functions a module actually calls become imports: the linker drops the rest.

// MARK: Logging, time, timers

@_extern(wasm, module: "env", name: "proxy_log")
@_extern(c)
func proxy_log(_ level: UInt32, _ message: UnsafePointer<UInt8>?, _ size: Int) -> UInt32

@_extern(wasm, module: "env", name: "proxy_get_log_level")
@_extern(c)
func proxy_get_log_level(_ level: UnsafeMutablePointer<UInt32>) -> UInt32

@_extern(wasm, module: "env", name: "proxy_get_current_time_nanoseconds")
@_extern(c)
func proxy_get_current_time_nanoseconds(_ result: UnsafeMutablePointer<UInt64>) -> UInt32

@_extern(wasm, module: "env", name: "proxy_set_tick_period_milliseconds")
@_extern(c)
func proxy_set_tick_period_milliseconds(_ period: UInt32) -> UInt32

// MARK: Buffers (bodies, configuration, callout responses)

@_extern(wasm, module: "env", name: "proxy_get_buffer_bytes")
@_extern(c)
func proxy_get_buffer_bytes(
    _ bufferType: UInt32, _ start: Int, _ maxSize: Int,
    _ returnData: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
    _ returnSize: UnsafeMutablePointer<Int>
) -> UInt32

@_extern(wasm, module: "env", name: "proxy_get_buffer_status")
@_extern(c)
func proxy_get_buffer_status(
    _ bufferType: UInt32, _ length: UnsafeMutablePointer<Int>, _ flags: UnsafeMutablePointer<UInt32>
) -> UInt32

@_extern(wasm, module: "env", name: "proxy_set_buffer_bytes")
@_extern(c)
func proxy_set_buffer_bytes(
    _ bufferType: UInt32, _ start: Int, _ size: Int, _ data: UnsafePointer<UInt8>?, _ dataSize: Int
) -> UInt32

// MARK: Header maps

@_extern(wasm, module: "env", name: "proxy_get_header_map_pairs")
@_extern(c)
func proxy_get_header_map_pairs(
    _ mapType: UInt32,
    _ returnData: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
    _ returnSize: UnsafeMutablePointer<Int>
) -> UInt32

@_extern(wasm, module: "env", name: "proxy_set_header_map_pairs")
@_extern(c)
func proxy_set_header_map_pairs(_ mapType: UInt32, _ data: UnsafePointer<UInt8>?, _ size: Int) -> UInt32

@_extern(wasm, module: "env", name: "proxy_get_header_map_size")
@_extern(c)
func proxy_get_header_map_size(_ mapType: UInt32, _ result: UnsafeMutablePointer<Int>) -> UInt32

@_extern(wasm, module: "env", name: "proxy_get_header_map_value")
@_extern(c)
func proxy_get_header_map_value(
    _ mapType: UInt32, _ key: UnsafePointer<UInt8>?, _ keySize: Int,
    _ returnData: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
    _ returnSize: UnsafeMutablePointer<Int>
) -> UInt32

@_extern(wasm, module: "env", name: "proxy_replace_header_map_value")
@_extern(c)
func proxy_replace_header_map_value(
    _ mapType: UInt32, _ key: UnsafePointer<UInt8>?, _ keySize: Int,
    _ value: UnsafePointer<UInt8>?, _ valueSize: Int
) -> UInt32

@_extern(wasm, module: "env", name: "proxy_add_header_map_value")
@_extern(c)
func proxy_add_header_map_value(
    _ mapType: UInt32, _ key: UnsafePointer<UInt8>?, _ keySize: Int,
    _ value: UnsafePointer<UInt8>?, _ valueSize: Int
) -> UInt32

@_extern(wasm, module: "env", name: "proxy_remove_header_map_value")
@_extern(c)
func proxy_remove_header_map_value(_ mapType: UInt32, _ key: UnsafePointer<UInt8>?, _ keySize: Int) -> UInt32

// MARK: Properties

@_extern(wasm, module: "env", name: "proxy_get_property")
@_extern(c)
func proxy_get_property(
    _ path: UnsafePointer<UInt8>?, _ pathSize: Int,
    _ returnData: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
    _ returnSize: UnsafeMutablePointer<Int>
) -> UInt32

@_extern(wasm, module: "env", name: "proxy_set_property")
@_extern(c)
func proxy_set_property(
    _ path: UnsafePointer<UInt8>?, _ pathSize: Int, _ value: UnsafePointer<UInt8>?, _ valueSize: Int
) -> UInt32

// MARK: Stream control

@_extern(wasm, module: "env", name: "proxy_continue_stream")
@_extern(c)
func proxy_continue_stream(_ streamType: UInt32) -> UInt32

@_extern(wasm, module: "env", name: "proxy_close_stream")
@_extern(c)
func proxy_close_stream(_ streamType: UInt32) -> UInt32

@_extern(wasm, module: "env", name: "proxy_send_local_response")
@_extern(c)
func proxy_send_local_response(
    _ statusCode: UInt32,
    _ details: UnsafePointer<UInt8>?, _ detailsSize: Int,
    _ body: UnsafePointer<UInt8>?, _ bodySize: Int,
    _ headers: UnsafePointer<UInt8>?, _ headersSize: Int,
    _ grpcStatus: Int32
) -> UInt32

// MARK: HTTP callouts

@_extern(wasm, module: "env", name: "proxy_http_call")
@_extern(c)
func proxy_http_call(
    _ upstream: UnsafePointer<UInt8>?, _ upstreamSize: Int,
    _ headers: UnsafePointer<UInt8>?, _ headersSize: Int,
    _ body: UnsafePointer<UInt8>?, _ bodySize: Int,
    _ trailers: UnsafePointer<UInt8>?, _ trailersSize: Int,
    _ timeoutMilliseconds: UInt32,
    _ returnToken: UnsafeMutablePointer<UInt32>
) -> UInt32

// MARK: Metrics

@_extern(wasm, module: "env", name: "proxy_define_metric")
@_extern(c)
func proxy_define_metric(
    _ metricType: UInt32, _ name: UnsafePointer<UInt8>?, _ nameSize: Int,
    _ returnID: UnsafeMutablePointer<UInt32>
) -> UInt32

@_extern(wasm, module: "env", name: "proxy_increment_metric")
@_extern(c)
func proxy_increment_metric(_ metricID: UInt32, _ offset: Int64) -> UInt32

@_extern(wasm, module: "env", name: "proxy_record_metric")
@_extern(c)
func proxy_record_metric(_ metricID: UInt32, _ value: UInt64) -> UInt32

@_extern(wasm, module: "env", name: "proxy_get_metric")
@_extern(c)
func proxy_get_metric(_ metricID: UInt32, _ result: UnsafeMutablePointer<UInt64>) -> UInt32

// MARK: Shared data

@_extern(wasm, module: "env", name: "proxy_get_shared_data")
@_extern(c)
func proxy_get_shared_data(
    _ key: UnsafePointer<UInt8>?, _ keySize: Int,
    _ returnData: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
    _ returnSize: UnsafeMutablePointer<Int>,
    _ returnCas: UnsafeMutablePointer<UInt32>
) -> UInt32

@_extern(wasm, module: "env", name: "proxy_set_shared_data")
@_extern(c)
func proxy_set_shared_data(
    _ key: UnsafePointer<UInt8>?, _ keySize: Int, _ value: UnsafePointer<UInt8>?, _ valueSize: Int,
    _ cas: UInt32
) -> UInt32

// MARK: Contexts

@_extern(wasm, module: "env", name: "proxy_set_effective_context")
@_extern(c)
func proxy_set_effective_context(_ contextID: UInt32) -> UInt32

@_extern(wasm, module: "env", name: "proxy_done")
@_extern(c)
func proxy_done() -> UInt32

// MARK: The C runtime (runtime.c)

@_extern(c, "proxy_wasm_heap_statistics")
func proxy_wasm_heap_statistics(
    _ inUse: UnsafeMutablePointer<UInt32>, _ cached: UnsafeMutablePointer<UInt32>,
    _ linearMemory: UnsafeMutablePointer<UInt32>, _ blocks: UnsafeMutablePointer<UInt32>
)

