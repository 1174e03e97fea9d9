// Values the host returns through out-parameters live in memory it allocated by calling the
// module's `malloc`. These helpers hand such a value to Swift and give the memory back, so that
// no host call leaks.

/// Calls `body` with two out-parameters for a host-allocated value, then passes the value to
/// `use` and frees it. Returns nil when the host call fails.
@inline(__always)
func withHostValue<R>(
    _ call: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>) -> UInt32,
    _ use: (UnsafeRawBufferPointer) -> R
) -> (status: HostStatus, value: R?) {
    var data: UnsafeMutablePointer<UInt8>? = nil
    var size = 0
    let status = HostStatus(rawValue: call(&data, &size))
    defer { data?.deallocate() }
    guard status.isOK else {
        return (status, nil)
    }
    return (status, use(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)))
}

/// Copies host-returned bytes into an array.
@inline(__always)
func hostBytes(
    _ call: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>) -> UInt32
) -> [UInt8]? {
    withHostValue(call) { [UInt8]($0) }.value
}

/// Decodes host-returned bytes as UTF-8 (invalid sequences become U+FFFD).
@inline(__always)
func hostString(
    _ call: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>) -> UInt32
) -> String? {
    withHostValue(call) { String(decoding: $0, as: UTF8.self) }.value
}

extension String {
    /// Runs `body` with the string's UTF-8 bytes, without copying when the string is native.
    @inline(__always)
    func withBytes<R>(_ body: (UnsafePointer<UInt8>?, Int) -> R) -> R {
        var copy = self
        return copy.withUTF8 { body($0.baseAddress, $0.count) }
    }
}

extension Array where Element == UInt8 {
    /// Runs `body` with the array's bytes.
    @inline(__always)
    func withBytes<R>(_ body: (UnsafePointer<UInt8>?, Int) -> R) -> R {
        withUnsafeBufferPointer { body($0.baseAddress, $0.count) }
    }
}
