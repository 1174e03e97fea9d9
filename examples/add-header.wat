;; add-header.wat: the example qpilot middleware, written by hand in WebAssembly text.
;;
;; It is a Proxy-Wasm HTTP filter (ABI v0.2.1) that Envoy loads through
;; envoy.filters.http.wasm. Build it with:
;;
;;     wat2wasm examples/add-header.wat -o add-header.wasm
;;
;; What it does:
;;
;;   * proxy_on_configure: reads the plugin configuration (the bytes of the
;;     filter's `configuration` field, e.g. a google.protobuf.StringValue) and
;;     keeps them. Returns 0 (failure) if the bytes contain the substring
;;     "reject", otherwise 1. Envoy then refuses the filter configuration, which
;;     makes this module handy for testing how a control plane reports a
;;     middleware that rejects its configuration.
;;   * proxy_on_request_headers: APPENDS the request header
;;     `x-qpilot-config: <configuration bytes, verbatim>`. Appending rather
;;     than replacing means that when several instances of this module are
;;     chained, the upstream sees one value per instance, in filter order.
;;   * proxy_on_response_headers: appends `x-qpilot-middleware: add-header`.
;;   Both header callbacks return Continue (0).
;;
;; Why there are tables below: Envoy shares one VM between every filter
;; instance that has the same code and the same vm_config (its VM key). Each
;; instance then gets its own *root context* (its own context id, with its
;; own proxy_on_configure call) inside that one VM. So the configuration cannot
;; live in one global variable: it is kept per root context, and each HTTP
;; stream context is mapped to the root context that created it
;; (proxy_on_context_create tells us the parent).
;;
;; All host functions are imported from module "env" with the exact
;; signatures of the Proxy-Wasm ABI v0.2.1 spec (proxy-wasm/spec,
;; abi-versions/v0.2.1/README.md) as implemented by proxy-wasm-cpp-host
;; (include/proxy-wasm/exports.h). Every pointer and size is an i32 on wasm32.
;; A wrong signature makes Envoy refuse to link the module.
;;
;; Memory layout (one 64 KiB page of fixed data, heap above it):
;;
;;     0    .. 63       scratch slots for host "return_*" out-parameters
;;     1024 .. 2047     constant strings (data segments below)
;;     4096 .. 7167     root table:   256 entries x 12 bytes
;;                        { root_context_id, config_ptr, config_len }
;;     8192 .. 40959    stream table: 4096 entries x 8 bytes
;;                        { stream_context_id, root_context_id }
;;                      open addressing, slot = id mod 4096, linear probing
;;     65536 ..         heap, handed out by `malloc` (a bump allocator)
;;
;; A context id of 0 never names a real context, so 0 marks a free entry.

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
  ;; The host allocates the copy by calling our exported `malloc` and writes
  ;; its address and length into the two out-parameters.
  (import "env" "proxy_get_buffer_bytes"
    (func $proxy_get_buffer_bytes (param i32 i32 i32 i32 i32) (result i32)))

  ;; proxy_add_header_map_value(map_id, key_data, key_size,
  ;;                            value_data, value_size) -> status
  ;; Adds a header (keeps existing values of the same name).
  (import "env" "proxy_add_header_map_value"
    (func $proxy_add_header_map_value (param i32 i32 i32 i32 i32) (result i32)))

  ;; ------------------------------------------------------------------------
  ;; Memory and constants
  ;; ------------------------------------------------------------------------

  ;; Two pages to start with: page 0 holds the fixed data and tables, page 1
  ;; is the first heap page. `malloc` grows memory when it needs more.
  (memory (export "memory") 2)

  ;; proxy_log levels
  (global $LOG_INFO  i32 (i32.const 2))
  (global $LOG_WARN  i32 (i32.const 3))
  (global $LOG_ERROR i32 (i32.const 4))

  ;; proxy_buffer_type_t PLUGIN_CONFIGURATION and proxy_map_type_t values
  (global $BUFFER_PLUGIN_CONFIGURATION i32 (i32.const 7))
  (global $MAP_HTTP_REQUEST_HEADERS    i32 (i32.const 0))
  (global $MAP_HTTP_RESPONSE_HEADERS   i32 (i32.const 2))

  ;; Out-parameter slots for host calls (in the scratch area at 0..63).
  (global $RET_PTR i32 (i32.const 16))
  (global $RET_LEN i32 (i32.const 20))

  ;; Tables (see the memory layout above).
  (global $ROOT_TABLE    i32 (i32.const 4096))
  (global $ROOT_ENTRIES  i32 (i32.const 256))
  (global $STREAM_TABLE  i32 (i32.const 8192))
  (global $STREAM_MASK   i32 (i32.const 4095))   ;; 4096 entries, a power of two

  ;; Bump allocator state: the first free heap byte.
  (global $heap_top (mut i32) (i32.const 65536))

  ;; Constant strings. Each one is referenced as (offset, length) in the code.
  (data (i32.const 1024) "x-qpilot-config")        ;; 15 bytes
  (data (i32.const 1040) "x-qpilot-middleware")    ;; 19 bytes
  (data (i32.const 1060) "add-header")             ;; 10 bytes
  (data (i32.const 1072) "reject")                 ;;  6 bytes
  (data (i32.const 1088)
    "add-header: configuration contains \22reject\22, rejecting it")  ;; 57 bytes
  (data (i32.const 1152)
    "add-header: could not read the plugin configuration")          ;; 51 bytes
  (data (i32.const 1216)
    "add-header: too many plugin configurations in one VM")          ;; 52 bytes
  (data (i32.const 1280)
    "add-header: stream without a known root context, header not added") ;; 65 bytes
  (data (i32.const 1360)
    "add-header: stream table full")                                 ;; 29 bytes
  (data (i32.const 1392)
    "add-header: configured")                                        ;; 22 bytes

  ;; ------------------------------------------------------------------------
  ;; ABI marker and allocator
  ;; ------------------------------------------------------------------------

  ;; The host looks for this export name to pick the ABI version. Never called.
  (func (export "proxy_abi_version_0_2_1"))

  ;; malloc(size) -> pointer, or 0 on failure. The host calls this to place
  ;; data it returns to us (buffer bytes, header values). It is a bump
  ;; allocator: memory is never freed. This module only allocates in
  ;; proxy_on_configure (once per configuration), so that is bounded.
  (func $malloc (export "malloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local $end i32)
    (local $pages_needed i64)
    ;; Align to 8 bytes.
    (local.set $ptr
      (i32.and (i32.add (global.get $heap_top) (i32.const 7)) (i32.const -8)))
    (local.set $end (i32.add (local.get $ptr) (local.get $size)))
    ;; Wrapped around the 4 GiB address space: fail.
    (if (i32.lt_u (local.get $end) (local.get $ptr))
      (then (return (i32.const 0))))
    ;; Grow the memory if `end` lies beyond it (computed in i64 so that the
    ;; page arithmetic cannot overflow).
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

  ;; ------------------------------------------------------------------------
  ;; Small helpers
  ;; ------------------------------------------------------------------------

  ;; Log a constant message; the host's status result is ignored.
  (func $log (param $level i32) (param $ptr i32) (param $len i32)
    (drop (call $proxy_log (local.get $level) (local.get $ptr) (local.get $len))))

  ;; contains(hay, hay_len, needle, needle_len) -> 1 if `needle` occurs in
  ;; `hay` as a byte substring, else 0. Naive O(n*m) search; the inputs are
  ;; a short configuration and a 6-byte needle.
  (func $contains
    (param $hay i32) (param $hay_len i32) (param $needle i32) (param $needle_len i32)
    (result i32)
    (local $i i32)
    (local $j i32)
    (if (i32.gt_u (local.get $needle_len) (local.get $hay_len))
      (then (return (i32.const 0))))
    ;; i runs over every start position 0 ..= hay_len - needle_len
    (block $done
      (loop $next_start
        (br_if $done
          (i32.gt_u (local.get $i)
                    (i32.sub (local.get $hay_len) (local.get $needle_len))))
        (local.set $j (i32.const 0))
        (block $mismatch
          (loop $next_byte
            ;; every byte matched: found
            (if (i32.eq (local.get $j) (local.get $needle_len))
              (then (return (i32.const 1))))
            (br_if $mismatch
              (i32.ne
                (i32.load8_u (i32.add (local.get $hay)
                                      (i32.add (local.get $i) (local.get $j))))
                (i32.load8_u (i32.add (local.get $needle) (local.get $j)))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $next_byte)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next_start)))
    (i32.const 0))

  ;; ------------------------------------------------------------------------
  ;; Root table: root_context_id -> (config_ptr, config_len)
  ;; ------------------------------------------------------------------------

  ;; Address of the entry for `root`, or 0 if there is none. Passing 0 finds
  ;; a free entry.
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

  ;; Record (or replace) the configuration of `root`. Returns 0 when the
  ;; table is full.
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
  ;;
  ;; Open addressing with linear probing, starting at slot id mod 4096.
  ;; Deleting just clears an entry, so a lookup cannot stop at the first
  ;; free slot; it probes until it finds the id or has seen every slot. In
  ;; practice the id sits in its home slot (ids are sequential), and a full
  ;; scan only happens for ids that were never stored.
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
  ;; Callbacks (exports) called by the host
  ;; ------------------------------------------------------------------------

  ;; proxy_on_context_create(context_id, parent_context_id)
  ;; parent 0: a root (plugin) context; otherwise an HTTP stream context whose
  ;; root is `parent`. Streams are remembered so that the request callbacks
  ;; can find their configuration.
  (func (export "proxy_on_context_create") (param $ctx i32) (param $parent i32)
    (local $addr i32)
    (if (i32.eqz (local.get $parent))
      (then (return)))
    (local.set $addr (call $stream_entry (i32.const 0)))
    (if (i32.eqz (local.get $addr))
      (then
        (call $log (global.get $LOG_WARN) (i32.const 1360) (i32.const 29))
        (return)))
    (i32.store (local.get $addr) (local.get $ctx))
    (i32.store offset=4 (local.get $addr) (local.get $parent)))

  ;; proxy_on_delete(context_id): forget the context. A root context frees
  ;; its table entry (its configuration bytes stay allocated: bump allocator).
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
  ;; Nothing to do at VM start; say it went well.
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (i32.const 1))

  ;; proxy_on_configure(root_context_id, plugin_configuration_size) -> bool
  (func (export "proxy_on_configure")
    (param $root i32) (param $size i32) (result i32)
    (local $ptr i32)
    (local $len i32)
    ;; The host writes nothing when the buffer is empty, so clear the slots.
    (i32.store (global.get $RET_PTR) (i32.const 0))
    (i32.store (global.get $RET_LEN) (i32.const 0))
    (if (i32.gt_u (local.get $size) (i32.const 0))
      (then
        (if (call $proxy_get_buffer_bytes
              (global.get $BUFFER_PLUGIN_CONFIGURATION)
              (i32.const 0) (local.get $size)
              (global.get $RET_PTR) (global.get $RET_LEN))
          (then
            (call $log (global.get $LOG_ERROR) (i32.const 1152) (i32.const 51))
            (return (i32.const 0))))))
    (local.set $ptr (i32.load (global.get $RET_PTR)))
    (local.set $len (i32.load (global.get $RET_LEN)))

    ;; A configuration containing "reject" is refused on purpose.
    (if (call $contains (local.get $ptr) (local.get $len) (i32.const 1072) (i32.const 6))
      (then
        (call $log (global.get $LOG_ERROR) (i32.const 1088) (i32.const 57))
        (return (i32.const 0))))

    ;; Keep the bytes (allocated for us by the host through `malloc`).
    (if (i32.eqz (call $root_put (local.get $root) (local.get $ptr) (local.get $len)))
      (then
        (call $log (global.get $LOG_ERROR) (i32.const 1216) (i32.const 52))
        (return (i32.const 0))))
    (call $log (global.get $LOG_INFO) (i32.const 1392) (i32.const 22))
    (i32.const 1))

  ;; proxy_on_request_headers(context_id, num_headers, end_of_stream) -> action
  ;; Append `x-qpilot-config: <configuration>` and continue.
  (func (export "proxy_on_request_headers")
    (param $ctx i32) (param $num_headers i32) (param $end_of_stream i32) (result i32)
    (local $entry i32)
    (local.set $entry (call $root_entry (call $stream_root (local.get $ctx))))
    ;; $stream_root returns 0 for an unknown stream, and $root_entry(0) would
    ;; find a *free* entry, so check that the entry really belongs to a root.
    (if (i32.or (i32.eqz (local.get $entry))
                (i32.eqz (i32.load (local.get $entry))))
      (then
        (call $log (global.get $LOG_WARN) (i32.const 1280) (i32.const 65))
        (return (i32.const 0))))
    (drop (call $proxy_add_header_map_value
      (global.get $MAP_HTTP_REQUEST_HEADERS)
      (i32.const 1024) (i32.const 15)                       ;; "x-qpilot-config"
      (i32.load offset=4 (local.get $entry))                ;; config bytes
      (i32.load offset=8 (local.get $entry))))
    (i32.const 0))                                          ;; Continue

  ;; proxy_on_response_headers(context_id, num_headers, end_of_stream) -> action
  ;; Append `x-qpilot-middleware: add-header` and continue.
  (func (export "proxy_on_response_headers")
    (param $ctx i32) (param $num_headers i32) (param $end_of_stream i32) (result i32)
    (drop (call $proxy_add_header_map_value
      (global.get $MAP_HTTP_RESPONSE_HEADERS)
      (i32.const 1040) (i32.const 19)                       ;; "x-qpilot-middleware"
      (i32.const 1060) (i32.const 10)))                     ;; "add-header"
    (i32.const 0))                                          ;; Continue
)
