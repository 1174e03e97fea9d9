/// The module's own memory use, from the SDK's allocator. Publish it as a gauge to show that
/// a middleware does not grow with traffic.
public struct HeapStatistics: Sendable {
    /// Bytes in live allocations (rounded up to their size class).
    public let bytesInUse: UInt32
    /// Bytes in freed blocks kept for reuse.
    public let bytesCached: UInt32
    /// The size of the module's linear memory.
    public let linearMemoryBytes: UInt32
    /// The number of live allocations.
    public let liveAllocations: UInt32

    /// The figures right now.
    public static var current: HeapStatistics {
        var inUse: UInt32 = 0
        var cached: UInt32 = 0
        var linear: UInt32 = 0
        var blocks: UInt32 = 0
        proxy_wasm_heap_statistics(&inUse, &cached, &linear, &blocks)
        return HeapStatistics(bytesInUse: inUse, bytesCached: cached, linearMemoryBytes: linear, liveAllocations: blocks)
    }
}

/// Two gauges that publish ``HeapStatistics``: `<prefix>.heap_in_use_bytes` and
/// `<prefix>.wasm_memory_bytes`. Call ``publish()`` now and then (after each exchange costs two
/// host calls) to show in Envoy's stats that the module does not grow with traffic.
public struct HeapGauges: Sendable {
    private let inUse: Gauge
    private let linearMemory: Gauge

    /// Defines the gauges.
    public init(prefix: String) {
        inUse = Gauge("\(prefix).heap_in_use_bytes")
        linearMemory = Gauge("\(prefix).wasm_memory_bytes")
    }

    /// Sets both gauges to the current figures.
    public func publish() {
        let heap = HeapStatistics.current
        inUse.set(UInt64(heap.bytesInUse))
        linearMemory.set(UInt64(heap.linearMemoryBytes))
    }
}
