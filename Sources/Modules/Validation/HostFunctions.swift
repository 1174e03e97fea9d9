// The host table, as data: what Envoy 1.40 (V8 runtime) provides to a Proxy-Wasm module, and what
// it looks up in one. Signatures are exact: V8 refuses an import whose parameter or result types
// differ in any position, and Envoy refuses a callback export whose signature differs.
//
// Sources (C++ `Word` is i32 on wasm32; `int64_t`/`uint64_t` are i64; a `void` result is `()`):
//
// - proxy-wasm/proxy-wasm-cpp-host, src/wasm.cc, `WasmBase::registerCallbacks()`: registers
//   `env.pthread_equal`, `env.emscripten_notify_memory_growth`, every WASI function of
//   `FOR_ALL_WASI_FUNCTIONS` under both `wasi_unstable` and `wasi_snapshot_preview1`, every
//   `FOR_ALL_HOST_FUNCTIONS` as `env.proxy_<name>`, then by ABI version:
//   0.1.0 → get_configuration, continue_request, continue_response, clear_route_cache;
//   0.2.0 → continue_stream, close_stream; 0.2.1 → continue_stream, close_stream, get_log_level.
// - proxy-wasm/proxy-wasm-cpp-host, include/proxy-wasm/exports.h: the C++ declaration (and so the
//   wasm signature) of each host function, and the `FOR_ALL_HOST_FUNCTIONS`,
//   `FOR_ALL_HOST_FUNCTIONS_ABI_SPECIFIC` and `FOR_ALL_WASI_FUNCTIONS` lists.
// - proxy-wasm/proxy-wasm-cpp-host pull request #427 ("add wasi hostcalls used by the Go SDK"):
//   adds `sched_yield`, `poll_oneoff` and `fd_fdstat_set_flags`, which every Go (wasip1) module
//   imports; ../shared/testdata/wasm/go-sdk-http-headers.wasm, which Envoy 1.40 loads, needs them.
//   Pull request #533 (merged 2026-03) adds the rest of wasip1; it is not listed here until an
//   Envoy release is known to carry it, so qpilot errs on the side of refusing.
// - proxy-wasm/proxy-wasm-cpp-host, src/v8/v8.cc, `V8::link()`: an import of a function that is
//   not registered fails with "missing import", one with other types with "import type mismatch";
//   a global import always fails ("missing import"); memory and table imports are created from
//   the module's own limits, whatever their module name.
// - proxy-wasm/proxy-wasm-cpp-host, include/proxy-wasm/wasm.h (`WasmCallVoid<N>` = N i32 → (),
//   `WasmCallWord<N>` = N i32 → i32) and src/wasm.cc `WasmBase::getFunctions()`: the callbacks
//   Envoy looks up (`FOR_ALL_MODULE_FUNCTIONS`, the ABI-specific header callbacks,
//   `proxy_on_foreign_function` for 0.2.x only, `malloc` then `proxy_on_memory_allocate`,
//   `_initialize`, then `main` if `_initialize` exists, else `_start`). A looked-up export with
//   another signature fails with "Bad function signature for: <name>".
// - envoyproxy/envoy, source/extensions/common/wasm/wasm.cc (`Wasm::registerCallbacks`,
//   `Wasm::getFunctions`) and wasm.h: Envoy's own additions, `env.envoy_resolve_dns` and the
//   callbacks `envoy_on_resolve_dns` (WasmCallVoid<3>) and `envoy_on_stats_update` (WasmCallVoid<2>).
// - proxy-wasm/spec abi-versions/v0.1.0, v0.2.0 and v0.2.1 README.md: the same names and
//   signatures, from the ABI's side (cross-checked; the host above is what Envoy enforces).

extension HostTable {
    /// Each WASI function appears under both WASI module names, as Envoy registers it.
    static let functions: [Function] = registrations.flatMap { function in
        function.module == "env" ? [function] : wasiModules.map { function.moved(to: $0) }
    }

    private static let registrations: [Function] = [
        // FOR_ALL_HOST_FUNCTIONS: every ABI version.
        .env("proxy_log", "(i32, i32, i32) -> i32", .logging),
        .env("proxy_get_status", "(i32, i32, i32) -> i32", .grpcCallouts),
        .env("proxy_set_property", "(i32, i32, i32, i32) -> i32", .properties),
        .env("proxy_get_property", "(i32, i32, i32, i32) -> i32", .properties),
        .env("proxy_send_local_response", "(i32, i32, i32, i32, i32, i32, i32, i32) -> i32", .localResponses),
        .env("proxy_get_shared_data", "(i32, i32, i32, i32, i32) -> i32", .sharedData),
        .env("proxy_set_shared_data", "(i32, i32, i32, i32, i32) -> i32", .sharedData),
        .env("proxy_register_shared_queue", "(i32, i32, i32) -> i32", .sharedQueues),
        .env("proxy_resolve_shared_queue", "(i32, i32, i32, i32, i32) -> i32", .sharedQueues),
        .env("proxy_dequeue_shared_queue", "(i32, i32, i32) -> i32", .sharedQueues),
        .env("proxy_enqueue_shared_queue", "(i32, i32, i32) -> i32", .sharedQueues),
        .env("proxy_get_header_map_value", "(i32, i32, i32, i32, i32) -> i32", .headers),
        .env("proxy_add_header_map_value", "(i32, i32, i32, i32, i32) -> i32", .headers),
        .env("proxy_replace_header_map_value", "(i32, i32, i32, i32, i32) -> i32", .headers),
        .env("proxy_remove_header_map_value", "(i32, i32, i32) -> i32", .headers),
        .env("proxy_get_header_map_pairs", "(i32, i32, i32) -> i32", .headers),
        .env("proxy_set_header_map_pairs", "(i32, i32, i32) -> i32", .headers),
        .env("proxy_get_header_map_size", "(i32, i32) -> i32", .headers),
        .env("proxy_get_buffer_status", "(i32, i32, i32) -> i32", .buffers),
        .env("proxy_get_buffer_bytes", "(i32, i32, i32, i32, i32) -> i32", .buffers),
        .env("proxy_set_buffer_bytes", "(i32, i32, i32, i32, i32) -> i32", .buffers),
        .env("proxy_http_call", "(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> i32", .httpCallouts),
        .env("proxy_grpc_call", "(i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32, i32) -> i32", .grpcCallouts),
        .env("proxy_grpc_stream", "(i32, i32, i32, i32, i32, i32, i32, i32, i32) -> i32", .grpcCallouts),
        .env("proxy_grpc_close", "(i32) -> i32", .grpcCallouts),
        .env("proxy_grpc_cancel", "(i32) -> i32", .grpcCallouts),
        .env("proxy_grpc_send", "(i32, i32, i32, i32) -> i32", .grpcCallouts),
        .env("proxy_set_tick_period_milliseconds", "(i32) -> i32", .timers),
        .env("proxy_get_current_time_nanoseconds", "(i32) -> i32", .clock),
        .env("proxy_define_metric", "(i32, i32, i32, i32) -> i32", .metrics),
        .env("proxy_increment_metric", "(i32, i64) -> i32", .metrics),
        .env("proxy_record_metric", "(i32, i64) -> i32", .metrics),
        .env("proxy_get_metric", "(i32, i32) -> i32", .metrics),
        .env("proxy_set_effective_context", "(i32) -> i32", .contexts),
        .env("proxy_done", "() -> i32", .contexts),
        .env("proxy_call_foreign_function", "(i32, i32, i32, i32, i32, i32) -> i32", .foreignFunctions),

        // FOR_ALL_HOST_FUNCTIONS_ABI_SPECIFIC, registered only for some versions.
        .env("proxy_get_configuration", "(i32, i32) -> i32", .configuration, only: [.v0_1_0]),
        .env("proxy_continue_request", "() -> i32", .streamControl, only: [.v0_1_0]),
        .env("proxy_continue_response", "() -> i32", .streamControl, only: [.v0_1_0]),
        .env("proxy_clear_route_cache", "() -> i32", .streamControl, only: [.v0_1_0]),
        .env("proxy_continue_stream", "(i32) -> i32", .streamControl, only: [.v0_2_0, .v0_2_1]),
        .env("proxy_close_stream", "(i32) -> i32", .streamControl, only: [.v0_2_0, .v0_2_1]),
        .env("proxy_get_log_level", "(i32) -> i32", .logging, only: [.v0_2_1]),

        // Registered in `env` without the proxy_ prefix, for Emscripten-built modules.
        .env("pthread_equal", "(i32, i32) -> i32", .runtimeSupport),
        .env("emscripten_notify_memory_growth", "(i32) -> ()", .runtimeSupport),

        // Envoy's own addition (source/extensions/common/wasm/wasm.cc).
        .env("envoy_resolve_dns", "(i32, i32, i32) -> i32", .dns),

        // FOR_ALL_WASI_FUNCTIONS, under wasi_snapshot_preview1 and wasi_unstable.
        .wasi("fd_write", "(i32, i32, i32, i32) -> i32"),
        .wasi("fd_read", "(i32, i32, i32, i32) -> i32"),
        .wasi("fd_seek", "(i32, i64, i32, i32) -> i32"),
        .wasi("fd_close", "(i32) -> i32"),
        .wasi("fd_fdstat_get", "(i32, i32) -> i32"),
        .wasi("environ_get", "(i32, i32) -> i32"),
        .wasi("environ_sizes_get", "(i32, i32) -> i32"),
        .wasi("args_get", "(i32, i32) -> i32"),
        .wasi("args_sizes_get", "(i32, i32) -> i32"),
        .wasi("clock_time_get", "(i32, i64, i32) -> i32"),
        .wasi("random_get", "(i32, i32) -> i32"),
        .wasi("proc_exit", "(i32) -> ()"),
        .wasi("path_open", "(i32, i32, i32, i32, i32, i64, i64, i32, i32) -> i32"),
        .wasi("fd_prestat_get", "(i32, i32) -> i32"),
        .wasi("fd_prestat_dir_name", "(i32, i32, i32) -> i32"),
        // cpp-host pull request #427, for Go (wasip1) modules.
        .wasi("sched_yield", "() -> i32"),
        .wasi("poll_oneoff", "(i32, i32, i32, i32) -> i32"),
        .wasi("fd_fdstat_set_flags", "(i32, i32) -> i32"),
    ]

    static let callbacks: [Callback] = [
        // Integration (WASI command or reactor). `main` is looked up only when `_initialize` is
        // exported, `_start` only when it is not.
        .callback("_initialize", "() -> ()"),
        .callback("_start", "() -> ()"),
        .callback("main", "(i32, i32) -> i32"),

        // Memory: `malloc` is looked up first, `proxy_on_memory_allocate` only in its absence.
        .callback("malloc", "(i32) -> i32"),
        .callback("proxy_on_memory_allocate", "(i32) -> i32"),

        // FOR_ALL_MODULE_FUNCTIONS.
        .callback("proxy_validate_configuration", "(i32, i32) -> i32"),
        .callback("proxy_on_vm_start", "(i32, i32) -> i32"),
        .callback("proxy_on_configure", "(i32, i32) -> i32"),
        .callback("proxy_on_tick", "(i32) -> ()"),
        .callback("proxy_on_context_create", "(i32, i32) -> ()"),
        .callback("proxy_on_new_connection", "(i32) -> i32"),
        .callback("proxy_on_downstream_data", "(i32, i32, i32) -> i32"),
        .callback("proxy_on_upstream_data", "(i32, i32, i32) -> i32"),
        .callback("proxy_on_downstream_connection_close", "(i32, i32) -> ()"),
        .callback("proxy_on_upstream_connection_close", "(i32, i32) -> ()"),
        .callback("proxy_on_request_body", "(i32, i32, i32) -> i32"),
        .callback("proxy_on_request_trailers", "(i32, i32) -> i32"),
        .callback("proxy_on_request_metadata", "(i32, i32) -> i32"),
        .callback("proxy_on_response_body", "(i32, i32, i32) -> i32"),
        .callback("proxy_on_response_trailers", "(i32, i32) -> i32"),
        .callback("proxy_on_response_metadata", "(i32, i32) -> i32"),
        .callback("proxy_on_http_call_response", "(i32, i32, i32, i32, i32) -> ()"),
        .callback("proxy_on_grpc_receive", "(i32, i32, i32) -> ()"),
        .callback("proxy_on_grpc_close", "(i32, i32, i32) -> ()"),
        .callback("proxy_on_grpc_receive_initial_metadata", "(i32, i32, i32) -> ()"),
        .callback("proxy_on_grpc_receive_trailing_metadata", "(i32, i32, i32) -> ()"),
        .callback("proxy_on_queue_ready", "(i32, i32) -> ()"),
        .callback("proxy_on_done", "(i32) -> i32"),
        .callback("proxy_on_log", "(i32) -> ()"),
        .callback("proxy_on_delete", "(i32) -> ()"),

        // The header callbacks changed shape in 0.2.0 (end_of_stream was added).
        .callback("proxy_on_request_headers", "(i32, i32) -> i32", only: [.v0_1_0]),
        .callback("proxy_on_response_headers", "(i32, i32) -> i32", only: [.v0_1_0]),
        .callback("proxy_on_request_headers", "(i32, i32, i32) -> i32", only: [.v0_2_0, .v0_2_1]),
        .callback("proxy_on_response_headers", "(i32, i32, i32) -> i32", only: [.v0_2_0, .v0_2_1]),
        .callback("proxy_on_foreign_function", "(i32, i32, i32) -> ()", only: [.v0_2_0, .v0_2_1]),

        // Envoy's own additions.
        .callback("envoy_on_resolve_dns", "(i32, i32, i32) -> ()"),
        .callback("envoy_on_stats_update", "(i32, i32) -> ()"),
    ]
}
