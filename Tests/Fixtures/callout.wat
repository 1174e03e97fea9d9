;; callout.wat: a test fixture middleware that makes an HTTP callout.
;;
;; A Proxy-Wasm HTTP filter (ABI v0.2.1) for envoy.filters.http.wasm, written
;; by hand in WebAssembly text. Build it with:
;;
;;     wat2wasm Tests/Fixtures/callout.wat -o callout.wasm
;;
;; It exercises qpilot's callout path: a middleware's proxy_http_call goes to
;; the Envoy cluster `qpilot_callout`, whose only endpoint is the internal
;; listener `qpilot_callout`, which forwards through the dynamic forward
;; proxy cluster to whatever `:authority` the middleware asked for.
;;
;; What it does:
;;
;;   * proxy_on_configure: keeps the plugin configuration bytes; they are the
;;     authority (host:port) of the callout service, e.g. "127.0.0.1:8123".
;;     An empty configuration is refused (returns 0).
;;   * proxy_on_request_headers: dispatches
;;         proxy_http_call("qpilot_callout",
;;                         { :method: GET, :path: /callout,
;;                           :authority: <configuration> },
;;                         no body, no trailers, timeout 5000 ms)
;;     and returns Pause (1), so the request waits for the answer.
;;   * proxy_on_http_call_response: reads the callout response's `:status`
;;     header and up to 64 bytes of its body, switches to the paused request's
;;     context, adds the request headers
;;         x-callout-status: <status>      ("unavailable" if the call failed)
;;         x-callout-body:   <body, first <= 64 bytes, cut at the first
;;                            control character so it is a valid header value>
;;     and resumes the request with proxy_continue_stream(HTTP_REQUEST).
;;   * proxy_on_request_body: keeps a request body buffered while its callout
;;     is outstanding. (Without it, Envoy would resume a paused request as
;;     soon as a body chunk arrived, because a body callback that is not
;;     exported counts as Continue.)
;;
;; Two host details shape the code:
;;
;;   1. proxy_http_call is issued on behalf of the ROOT context (Envoy's
;;      proxy-wasm-cpp-host does `contextOrEffectiveContext()->root_context()`
;;      in http_call), so proxy_on_http_call_response receives the root
;;      context id, not the stream's. The module therefore remembers which
;;      stream made each call: the "pending" table maps (root, token) to the
;;      stream context id.
;;   2. The callout response (HTTP_CALL_RESPONSE_HEADERS, map 6, and
;;      HTTP_CALL_RESPONSE_BODY, buffer 4) is attached to that root context.
;;      It must be read BEFORE proxy_set_effective_context switches to the
;;      stream, since afterwards the host looks the maps up on the stream.
;;
;; As in add-header.wat, Envoy may run several filter instances (root
;; contexts) in one shared VM, so the configuration is kept per root context
;; and each stream is mapped to its root context.
;;
;; Host function signatures follow the Proxy-Wasm ABI v0.2.1 spec
;; (proxy-wasm/spec, abi-versions/v0.2.1/README.md) and proxy-wasm-cpp-host
;; (include/proxy-wasm/exports.h); everything is i32 on wasm32.
;;
;; Memory layout:
;;
;;     0    .. 63       scratch slots for host "return_*" out-parameters
;;     1024 .. 2047     constant strings (data segments below)
;;     4096 .. 7167     root table:    256 entries x 12 bytes
;;                        { root_context_id, config_ptr, config_len }
;;     8192 .. 40959    stream table:  4096 entries x 8 bytes
;;                        { stream_context_id, root_context_id }
;;     40960 .. 44031   pending table: 256 entries x 12 bytes
;;                        { root_context_id, call_token, stream_context_id }
;;     65536 ..         heap (bump allocator, see `malloc`)
;;
;; An id of 0 never names a context, so root/stream id 0 marks a free entry.

(module
  ;; ------------------------------------------------------------------------
  ;; Host functions (imports). Status results: 0 = OK, 1 = NOT_FOUND,
  ;; 2 = BAD_ARGUMENT, ... (proxy_status_t).
  ;; ------------------------------------------------------------------------

  ;; proxy_log(log_level, message_data, message_size) -> status
  (import "env" "proxy_log"
    (func $proxy_log (param i32 i32 i32) (result i32)))

  ;; proxy_get_buffer_bytes(buffer_id, start, max_size,
  ;;                        return_value_data, return_value_size) -> status
  (import "env" "proxy_get_buffer_bytes"
    (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))

  ;; proxy_get_header_map_value(map_id, key_data, key_size,
  ;;                            return_value_data, return_value_size) -> status
  (import "env" "proxy_get_header_map_value"
    (func $proxy_get_header_map_value (param i32 i32 i32 i32 i32) (result i32)))

  ;; proxy_add_header_map_value(map_id, key_data, key_size,
  ;;                            value_data, value_size) -> status
  (import "env" "proxy_add_header_map_value"
    (func $proxy_add_header_map_value (param i32 i32 i32 i32 i32) (result i32)))

  ;; proxy_http_call(upstream_name_data, upstream_name_size,
  ;;                 serialized_headers_data, serialized_headers_size,
  ;;                 body_data, body_size,
  ;;                 serialized_trailers_data, serialized_trailers_size,
  ;;                 timeout_ms, return_call_id) -> status
  (import "env" "proxy_http_call"
    (func $proxy_http_call
      (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))

  ;; proxy_set_effective_context(context_id) -> status
  (import "env" "proxy_set_effective_context"
    (func $proxy_set_effective_context (param i32) (result i32)))

  ;; proxy_continue_stream(stream_type) -> status   (0 = HTTP_REQUEST)
  (import "env" "proxy_continue_stream"
    (func $proxy_continue_stream (param i32) (result i32)))

  ;; ------------------------------------------------------------------------
  ;; Memory and constants
  ;; ------------------------------------------------------------------------

  (memory (export "memory") 2)

  (global $LOG_INFO  i32 (i32.const 2))
  (global $LOG_WARN  i32 (i32.const 3))
  (global $LOG_ERROR i32 (i32.const 4))

  ;; proxy_buffer_type_t
  (global $BUFFER_HTTP_CALL_RESPONSE_BODY i32 (i32.const 4))
  (global $BUFFER_PLUGIN_CONFIGURATION    i32 (i32.const 7))
  ;; proxy_map_type_t
  (global $MAP_HTTP_REQUEST_HEADERS       i32 (i32.const 0))
  (global $MAP_HTTP_CALL_RESPONSE_HEADERS i32 (i32.const 6))
  ;; proxy_stream_type_t
  (global $STREAM_HTTP_REQUEST            i32 (i32.const 0))

  (global $CALLOUT_TIMEOUT_MS i32 (i32.const 5000))
  (global $MAX_BODY_IN_HEADER i32 (i32.const 64))

  ;; Out-parameter slots (scratch area 0..63).
  (global $RET_PTR   i32 (i32.const 16))
  (global $RET_LEN   i32 (i32.const 20))
  (global $RET_PTR2  i32 (i32.const 24))
  (global $RET_LEN2  i32 (i32.const 28))
  (global $RET_TOKEN i32 (i32.const 32))

  ;; Tables (see the memory layout above).
  (global $ROOT_TABLE      i32 (i32.const 4096))
  (global $ROOT_ENTRIES    i32 (i32.const 256))
  (global $STREAM_TABLE    i32 (i32.const 8192))
  (global $STREAM_MASK     i32 (i32.const 4095))
  (global $PENDING_TABLE   i32 (i32.const 40960))
  (global $PENDING_ENTRIES i32 (i32.const 256))

  ;; Bump allocator state: the first free heap byte.
  (global $heap_top (mut i32) (i32.const 65536))

  ;; Constant strings, referenced as (offset, length).
  (data (i32.const 1024) ":method")             ;;  7 bytes
  (data (i32.const 1032) "GET")                 ;;  3 bytes
  (data (i32.const 1040) ":path")               ;;  5 bytes
  (data (i32.const 1048) "/callout")            ;;  8 bytes
  (data (i32.const 1056) ":authority")          ;; 10 bytes
  (data (i32.const 1072) ":status")             ;;  7 bytes
  (data (i32.const 1080) "qpilot_callout")      ;; 14 bytes
  (data (i32.const 1096) "x-callout-status")    ;; 16 bytes
  (data (i32.const 1120) "x-callout-body")      ;; 14 bytes
  (data (i32.const 1136) "unavailable")         ;; 11 bytes
  (data (i32.const 1152)
    "callout: empty configuration, expected the callout authority") ;; 60 bytes
  (data (i32.const 1216)
    "callout: could not read the plugin configuration")             ;; 48 bytes
  (data (i32.const 1280)
    "callout: too many plugin configurations in one VM")            ;; 49 bytes
  (data (i32.const 1344)
    "callout: stream without a known root context, no callout")     ;; 56 bytes
  (data (i32.const 1408)
    "callout: proxy_http_call failed, request not paused")          ;; 51 bytes
  (data (i32.const 1472)
    "callout: too many outstanding callouts, request not paused")   ;; 58 bytes
  (data (i32.const 1536)
    "callout: response for an unknown call, ignored")               ;; 46 bytes
  (data (i32.const 1600)
    "callout: the paused request is gone, response dropped")        ;; 53 bytes
  (data (i32.const 1664)
    "callout: stream table full")                                   ;; 26 bytes
  (data (i32.const 1696)
    "callout: configured")                                          ;; 19 bytes

  ;; ------------------------------------------------------------------------
  ;; ABI marker and allocator
  ;; ------------------------------------------------------------------------

  ;; Marks the module as Proxy-Wasm ABI v0.2.1. Never called.
  (func (export "proxy_abi_version_0_2_1"))

  ;; malloc(size) -> pointer, or 0 on failure. A bump allocator. The host
  ;; calls it for every value it hands us; per-request allocations are
  ;; released by resetting $heap_top at the end of the callback that made
  ;; them (see $heap_mark / $heap_release), so memory does not grow per
  ;; request. Only configurations stay allocated.
  (func $malloc (export "malloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local $end i32)
    (local $pages_needed i64)
    (local.set $ptr
      (i32.and (i32.add (global.get $heap_top) (i32.const 7)) (i32.const -8)))
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    (if (i32.lt_u (local.get $end) (local.get $ptr))
      (then (return (i32.const 0))))
    (local.set $pages_needed
      (i64.shr_u
        (i64.add (i64.extend_i32_u (local.get $end)) (i64.const 65535))
        (i64.const 16)))
    (if (i64.gt_u (local.get $pages_needed) (i64.extend_i32_u (memory.size)))
      (then
        (if (i32.eq
              (memory.grow
                (i32.wrap_i64
                  (i64.sub (local.get $pages_needed)
                           (i64.extend_i32_u (memory.size)))))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $heap_top (local.get $end))
    (local.get $ptr))

  ;; Scratch allocations: everything allocated after $heap_mark is given back
  ;; by $heap_release(mark). Safe because the host copies whatever we pass
  ;; it (headers, values) before the host call returns, and callbacks into
  ;; one VM do not interleave (a nested callback would release only what it
  ;; allocated itself, above our mark).
  (func $heap_mark (result i32) (global.get $heap_top))
  (func $heap_release (param $mark i32) (global.set $heap_top (local.get $mark)))

  ;; ------------------------------------------------------------------------
  ;; Small helpers
  ;; ------------------------------------------------------------------------

  (func $log (param $level i32) (param $ptr i32) (param $len i32)
    (drop (call $proxy_log (local.get $level) (local.get $ptr) (local.get $len))))

  ;; Copy `len` bytes from `src` to `dst`; returns dst + len.
  (func $copy (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (i32.store8 (i32.add (local.get $dst) (local.get $i))
                    (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.add (local.get $dst) (local.get $len)))

  ;; Write key, NUL, value, NUL at `dst` (one header of a serialized map);
  ;; returns the address just past it.
  (func $put_pair
    (param $dst i32) (param $key i32) (param $key_len i32)
    (param $val i32) (param $val_len i32) (result i32)
    (local.set $dst (call $copy (local.get $dst) (local.get $key) (local.get $key_len)))
    (i32.store8 (local.get $dst) (i32.const 0))
    (local.set $dst (call $copy (i32.add (local.get $dst) (i32.const 1))
                                (local.get $val) (local.get $val_len)))
    (i32.store8 (local.get $dst) (i32.const 0))
    (i32.add (local.get $dst) (i32.const 1)))

  ;; Length of the prefix of (ptr, len) that is usable as a header value:
  ;; stops at the first control character other than TAB (CR, LF, NUL, ...)
  ;; or DEL.
  (func $header_safe_len (param $ptr i32) (param $len i32) (result i32)
    (local $i i32)
    (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $ptr) (local.get $i))))
        (br_if $done
          (i32.or
            (i32.and (i32.lt_u (local.get $c) (i32.const 0x20))
                     (i32.ne (local.get $c) (i32.const 0x09)))
            (i32.eq (local.get $c) (i32.const 0x7f))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $i))

  ;; ------------------------------------------------------------------------
  ;; Root table: root_context_id -> (config_ptr, config_len)
  ;; ------------------------------------------------------------------------

  ;; Address of the entry for `root` (0 finds a free entry), or 0.
  (func $root_entry (param $root i32) (result i32)
    (local $i i32)
    (local $addr i32)
    (block $not_found
      (loop $scan
        (br_if $not_found (i32.ge_u (local.get $i) (global.get $ROOT_ENTRIES)))
        (local.set $addr
          (i32.add (global.get $ROOT_TABLE) (i32.mul (local.get $i) (i32.const 12))))
        (if (i32.eq (i32.load (local.get $addr)) (local.get $root))
          (then (return (local.get $addr))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (i32.const 0))

  ;; Record (or replace) the configuration of `root`; 0 when the table is full.
  (func $root_put (param $root i32) (param $ptr i32) (param $len i32) (result i32)
    (local $addr i32)
    (local.set $addr (call $root_entry (local.get $root)))
    (if (i32.eqz (local.get $addr))
      (then (local.set $addr (call $root_entry (i32.const 0)))))
    (if (i32.eqz (local.get $addr))
      (then (return (i32.const 0))))
    (i32.store (local.get $addr) (local.get $root))
    (i32.store offset=4 (local.get $addr) (local.get $ptr))
    (i32.store offset=8 (local.get $addr) (local.get $len))
    (i32.const 1))

  ;; ------------------------------------------------------------------------
  ;; Stream table: stream_context_id -> root_context_id
  ;; Open addressing, home slot id mod 4096, linear probing; a lookup probes
  ;; until it finds the key or has seen every slot (entries are deleted by
  ;; clearing them, so a free slot does not end a probe sequence).
  ;; ------------------------------------------------------------------------

  ;; Address of the entry whose key is `key` (0 = a free entry), or 0.
  (func $stream_entry (param $key i32) (result i32)
    (local $slot i32)
    (local $probes i32)
    (local $addr i32)
    (local.set $slot (i32.and (local.get $key) (global.get $STREAM_MASK)))
    (block $not_found
      (loop $probe
        (br_if $not_found
          (i32.gt_u (local.get $probes) (global.get $STREAM_MASK)))
        (local.set $addr
          (i32.add (global.get $STREAM_TABLE) (i32.shl (local.get $slot) (i32.const 3))))
        (if (i32.eq (i32.load (local.get $addr)) (local.get $key))
          (then (return (local.get $addr))))
        (local.set $slot
          (i32.and (i32.add (local.get $slot) (i32.const 1)) (global.get $STREAM_MASK)))
        (local.set $probes (i32.add (local.get $probes) (i32.const 1)))
        (br $probe)))
    (i32.const 0))

  ;; Root context of a stream context, or 0 if unknown.
  (func $stream_root (param $ctx i32) (result i32)
    (local $addr i32)
    (local.set $addr (call $stream_entry (local.get $ctx)))
    (if (result i32) (local.get $addr)
      (then (i32.load offset=4 (local.get $addr)))
      (else (i32.const 0))))

  ;; ------------------------------------------------------------------------
  ;; Pending table: (root_context_id, call_token) -> stream_context_id
  ;; A small linear-scan array; a free entry has stream id 0.
  ;; ------------------------------------------------------------------------

  ;; Address of the entry for (root, token), or 0.
  (func $pending_find (param $root i32) (param $token i32) (result i32)
    (local $i i32)
    (local $addr i32)
    (block $not_found
      (loop $scan
        (br_if $not_found (i32.ge_u (local.get $i) (global.get $PENDING_ENTRIES)))
        (local.set $addr
          (i32.add (global.get $PENDING_TABLE) (i32.mul (local.get $i) (i32.const 12))))
        (if (i32.and
              (i32.ne (i32.load offset=8 (local.get $addr)) (i32.const 0))
              (i32.and
                (i32.eq (i32.load (local.get $addr)) (local.get $root))
                (i32.eq (i32.load offset=4 (local.get $addr)) (local.get $token))))
          (then (return (local.get $addr))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (i32.const 0))

  ;; Address of a free pending entry, or 0.
  (func $pending_free_entry (result i32)
    (local $i i32)
    (local $addr i32)
    (block $not_found
      (loop $scan
        (br_if $not_found (i32.ge_u (local.get $i) (global.get $PENDING_ENTRIES)))
        (local.set $addr
          (i32.add (global.get $PENDING_TABLE) (i32.mul (local.get $i) (i32.const 12))))
        (if (i32.eqz (i32.load offset=8 (local.get $addr)))
          (then (return (local.get $addr))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (i32.const 0))

  ;; 1 if stream `ctx` has an outstanding callout.
  (func $pending_for_stream (param $ctx i32) (result i32)
    (local $i i32)
    (local $addr i32)
    (block $not_found
      (loop $scan
        (br_if $not_found (i32.ge_u (local.get $i) (global.get $PENDING_ENTRIES)))
        (local.set $addr
          (i32.add (global.get $PENDING_TABLE) (i32.mul (local.get $i) (i32.const 12))))
        (if (i32.eq (i32.load offset=8 (local.get $addr)) (local.get $ctx))
          (then (return (i32.const 1))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $scan)))
    (i32.const 0))

  ;; ------------------------------------------------------------------------
  ;; Callbacks (exports) called by the host
  ;; ------------------------------------------------------------------------

  ;; proxy_on_context_create(context_id, parent_context_id)
  ;; Parent 0 is a root context; otherwise remember the stream's root.
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (local $addr i32)
    (if (i32.eqz (local.get $parent))
      (then (return)))
    (local.set $addr (call $stream_entry (i32.const 0)))
    (if (i32.eqz (local.get $addr))
      (then
        (call $log (global.get $LOG_WARN) (i32.const 1664) (i32.const 26))
        (return)))
    (i32.store (local.get $addr) (local.get $ctx))
    (i32.store offset=4 (local.get $addr) (local.get $parent)))

  ;; proxy_on_delete(context_id): forget the context. (A pending callout of a
  ;; deleted stream stays in the pending table until its response or timeout
  ;; arrives; proxy_set_effective_context then fails and it is dropped.)
  (func (export "proxy_on_delete") (param $ctx i32)
    (local $addr i32)
    (local.set $addr (call $root_entry (local.get $ctx)))
    (if (local.get $addr)
      (then
        (i64.store (local.get $addr) (i64.const 0))
        (i32.store offset=8 (local.get $addr) (i32.const 0))
        (return)))
    (local.set $addr (call $stream_entry (local.get $ctx)))
    (if (local.get $addr)
      (then (i64.store (local.get $addr) (i64.const 0)))))

  ;; proxy_on_vm_start(root_context_id, vm_configuration_size) -> bool
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (i32.const 1))

  ;; proxy_on_configure(root_context_id, plugin_configuration_size) -> bool
  ;; The configuration is the callout authority; it must not be empty.
  (func (export "proxy_on_configure")
    (param $root i32) (param $size i32) (result i32)
    (if (i32.eqz (local.get $size))
      (then
        (call $log (global.get $LOG_ERROR) (i32.const 1152) (i32.const 60))
        (return (i32.const 0))))
    (i32.store (global.get $RET_PTR) (i32.const 0))
    (i32.store (global.get $RET_LEN) (i32.const 0))
    (if (call $proxy_get_buffer_bytes
          (global.get $BUFFER_PLUGIN_CONFIGURATION)
          (i32.const 0) (local.get $size)
          (global.get $RET_PTR) (global.get $RET_LEN))
      (then
        (call $log (global.get $LOG_ERROR) (i32.const 1216) (i32.const 48))
        (return (i32.const 0))))
    (if (i32.eqz (call $root_put (local.get $root)
                                 (i32.load (global.get $RET_PTR))
                                 (i32.load (global.get $RET_LEN))))
      (then
        (call $log (global.get $LOG_ERROR) (i32.const 1280) (i32.const 49))
        (return (i32.const 0))))
    (call $log (global.get $LOG_INFO) (i32.const 1696) (i32.const 19))
    (i32.const 1))

  ;; proxy_on_request_headers(context_id, num_headers, end_of_stream) -> action
  ;; Dispatch the callout and pause the request. On any failure the request
  ;; continues without the x-callout-* headers (the log says why).
  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $num_headers i32) (param $end_of_stream i32) (result i32)
    (local $root i32)
    (local $entry i32)
    (local $pending i32)
    (local $auth i32)
    (local $auth_len i32)
    (local $mark i32)
    (local $map i32)
    (local $map_len i32)
    (local $p i32)
    (local $status i32)

    (local.set $root (call $stream_root (local.get $ctx)))
    (local.set $entry (call $root_entry (local.get $root)))
    (if (i32.or (i32.eqz (local.get $root)) (i32.eqz (local.get $entry)))
      (then
        (call $log (global.get $LOG_WARN) (i32.const 1344) (i32.const 56))
        (return (i32.const 0))))
    (local.set $auth (i32.load offset=4 (local.get $entry)))
    (local.set $auth_len (i32.load offset=8 (local.get $entry)))

    (local.set $pending (call $pending_free_entry))
    (if (i32.eqz (local.get $pending))
      (then
        (call $log (global.get $LOG_WARN) (i32.const 1472) (i32.const 58))
        (return (i32.const 0))))

    ;; Serialize the header map (Proxy-Wasm "serialized map" format,
    ;; little-endian):
    ;;   u32 number of pairs (3)
    ;;   u32 key size, u32 value size   for each pair
    ;;   key bytes, NUL, value bytes, NUL   for each pair
    ;; Sizes:  4 + 3*8 = 28 bytes of header, then
    ;;   ":method" 7+1 + "GET" 3+1 = 12,  ":path" 5+1 + "/callout" 8+1 = 15,
    ;;   ":authority" 10+1 + auth_len+1 = 12 + auth_len.
    (local.set $map_len (i32.add (i32.const 67) (local.get $auth_len)))
    (local.set $mark (call $heap_mark))
    (local.set $map (call $malloc (local.get $map_len)))
    (if (i32.eqz (local.get $map))
      (then (return (i32.const 0))))
    (i32.store          (local.get $map) (i32.const 3))
    (i32.store offset=4  (local.get $map) (i32.const 7))    ;; ":method"
    (i32.store offset=8  (local.get $map) (i32.const 3))    ;; "GET"
    (i32.store offset=12 (local.get $map) (i32.const 5))    ;; ":path"
    (i32.store offset=16 (local.get $map) (i32.const 8))    ;; "/callout"
    (i32.store offset=20 (local.get $map) (i32.const 10))   ;; ":authority"
    (i32.store offset=24 (local.get $map) (local.get $auth_len))
    (local.set $p (i32.add (local.get $map) (i32.const 28)))
    (local.set $p (call $put_pair (local.get $p)
                    (i32.const 1024) (i32.const 7)          ;; ":method"
                    (i32.const 1032) (i32.const 3)))        ;; "GET"
    (local.set $p (call $put_pair (local.get $p)
                    (i32.const 1040) (i32.const 5)          ;; ":path"
                    (i32.const 1048) (i32.const 8)))        ;; "/callout"
    (local.set $p (call $put_pair (local.get $p)
                    (i32.const 1056) (i32.const 10)         ;; ":authority"
                    (local.get $auth) (local.get $auth_len)))

    (local.set $status
      (call $proxy_http_call
        (i32.const 1080) (i32.const 14)                     ;; "qpilot_callout"
        (local.get $map) (local.get $map_len)
        (i32.const 0) (i32.const 0)                         ;; no body
        (i32.const 0) (i32.const 0)                         ;; no trailers
        (global.get $CALLOUT_TIMEOUT_MS)
        (global.get $RET_TOKEN)))
    ;; The host copied the headers; give the scratch memory back.
    (call $heap_release (local.get $mark))
    (if (local.get $status)
      (then
        (call $log (global.get $LOG_ERROR) (i32.const 1408) (i32.const 51))
        (return (i32.const 0))))

    ;; Remember which stream is waiting for this call, then pause.
    (i32.store         (local.get $pending) (local.get $root))
    (i32.store offset=4 (local.get $pending) (i32.load (global.get $RET_TOKEN)))
    (i32.store offset=8 (local.get $pending) (local.get $ctx))
    (i32.const 1))                                          ;; Pause

  ;; proxy_on_request_body(context_id, body_size, end_of_stream) -> action
  ;; While the callout is outstanding, keep buffering (1 = Pause, which Envoy
  ;; maps to StopIterationAndBuffer for body data).
  (func (export "proxy_on_request_body")
    (param $ctx i32) (param $body_size i32) (param $end_of_stream i32) (result i32)
    (call $pending_for_stream (local.get $ctx)))

  ;; proxy_on_http_call_response(root_context_id, call_id, num_headers,
  ;;                             body_size, num_trailers)
  (func (export "proxy_on_http_call_response")
    (param $root i32) (param $token i32) (param $num_headers i32)
    (param $body_size i32) (param $num_trailers i32)
    (local $pending i32)
    (local $ctx i32)
    (local $mark i32)
    (local $status i32)
    (local $status_len i32)
    (local $body i32)
    (local $body_len i32)

    (local.set $pending (call $pending_find (local.get $root) (local.get $token)))
    (if (i32.eqz (local.get $pending))
      (then
        (call $log (global.get $LOG_WARN) (i32.const 1536) (i32.const 46))
        (return)))
    (local.set $ctx (i32.load offset=8 (local.get $pending)))
    (i64.store (local.get $pending) (i64.const 0))
    (i32.store offset=8 (local.get $pending) (i32.const 0))

    (local.set $mark (call $heap_mark))

    ;; 1. Read the callout response while the root context is still the
    ;;    effective context. num_headers == 0 means the call failed (e.g.
    ;;    timeout or no upstream); :status is then not found.
    (i32.store (global.get $RET_PTR) (i32.const 0))
    (i32.store (global.get $RET_LEN) (i32.const 0))
    (if (i32.or
          (i32.eqz (local.get $num_headers))
          (i32.ne (call $proxy_get_header_map_value
                    (global.get $MAP_HTTP_CALL_RESPONSE_HEADERS)
                    (i32.const 1072) (i32.const 7)          ;; ":status"
                    (global.get $RET_PTR) (global.get $RET_LEN))
                  (i32.const 0)))
      (then
        (local.set $status (i32.const 1136))                ;; "unavailable"
        (local.set $status_len (i32.const 11)))
      (else
        (local.set $status (i32.load (global.get $RET_PTR)))
        (local.set $status_len (i32.load (global.get $RET_LEN)))))

    (i32.store (global.get $RET_PTR2) (i32.const 0))
    (i32.store (global.get $RET_LEN2) (i32.const 0))
    (if (i32.gt_u (local.get $body_size) (i32.const 0))
      (then
        (drop (call $proxy_get_buffer_bytes
          (global.get $BUFFER_HTTP_CALL_RESPONSE_BODY)
          (i32.const 0)
          (select (local.get $body_size) (global.get $MAX_BODY_IN_HEADER)
                  (i32.lt_u (local.get $body_size) (global.get $MAX_BODY_IN_HEADER)))
          (global.get $RET_PTR2) (global.get $RET_LEN2)))))
    (local.set $body (i32.load (global.get $RET_PTR2)))
    (local.set $body_len
      (call $header_safe_len (local.get $body) (i32.load (global.get $RET_LEN2))))

    ;; 2. Switch to the paused request. This fails if the stream has gone
    ;;    away in the meantime (client reset); then there is nothing to do.
    (if (call $proxy_set_effective_context (local.get $ctx))
      (then
        (call $log (global.get $LOG_WARN) (i32.const 1600) (i32.const 53))
        (call $heap_release (local.get $mark))
        (return)))

    ;; 3. Add the headers to the request and resume it.
    (drop (call $proxy_add_header_map_value
      (global.get $MAP_HTTP_REQUEST_HEADERS)
      (i32.const 1096) (i32.const 16)                       ;; "x-callout-status"
      (local.get $status) (local.get $status_len)))
    (drop (call $proxy_add_header_map_value
      (global.get $MAP_HTTP_REQUEST_HEADERS)
      (i32.const 1120) (i32.const 14)                       ;; "x-callout-body"
      (local.get $body) (local.get $body_len)))
    (drop (call $proxy_continue_stream (global.get $STREAM_HTTP_REQUEST)))
    (call $heap_release (local.get $mark)))
)
