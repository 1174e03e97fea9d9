/// What a module can do in Envoy, judged from the host functions it imports.
///
/// Derived from imports only: an SDK may import a function that the module never calls, so this
/// is what the module is able to do, not what it will do.
public enum ModuleCapability: String, Sendable, Codable, CaseIterable, Comparable {
    /// `proxy_log`, `proxy_get_log_level`.
    case logging
    /// `proxy_http_call`: HTTP requests to other services.
    case httpCallouts = "http_callouts"
    /// `proxy_grpc_*`, `proxy_get_status`: gRPC calls and streams.
    case grpcCallouts = "grpc_callouts"
    /// `proxy_define_metric` and friends.
    case metrics
    /// `proxy_get_shared_data`, `proxy_set_shared_data`: key-value data shared across VMs.
    case sharedData = "shared_data"
    /// `proxy_*_shared_queue`: message queues shared across VMs.
    case sharedQueues = "shared_queues"
    /// `proxy_set_tick_period_milliseconds`: periodic `proxy_on_tick` calls.
    case timers
    /// `proxy_get_current_time_nanoseconds`.
    case clock
    /// `proxy_*_header_map_*`: reading or changing HTTP headers and trailers.
    case headers
    /// `proxy_*_buffer_*`: reading or changing bodies, configuration and call responses.
    case buffers
    /// `proxy_get_property`, `proxy_set_property`: request, connection and node attributes.
    case properties
    /// `proxy_send_local_response`: answering a request without forwarding it.
    case localResponses = "local_responses"
    /// `proxy_continue_*`, `proxy_close_stream`, `proxy_clear_route_cache`.
    case streamControl = "stream_control"
    /// `proxy_set_effective_context`, `proxy_done`.
    case contexts
    /// `proxy_get_configuration` (ABI 0.1.0 only).
    case configuration
    /// `proxy_call_foreign_function`: Envoy-specific extensions.
    case foreignFunctions = "foreign_functions"
    /// `envoy_resolve_dns`, an Envoy addition to the ABI.
    case dns
    /// Any import from `wasi_snapshot_preview1` or `wasi_unstable`.
    case wasi
    /// Helpers for Emscripten-built modules (`emscripten_notify_memory_growth`, `pthread_equal`).
    case runtimeSupport = "runtime_support"

    /// Alphabetical, by raw value.
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
