/// Key-value data shared by every VM of the same `vm_id` in one Envoy (all worker threads),
/// with compare-and-swap versions.
public enum SharedData {
    /// The value stored under `key` and its version, or nil when there is none.
    public static func get(_ key: String) -> (value: [UInt8], cas: UInt32)? {
        var cas: UInt32 = 0
        let value = key.withBytes { keyData, keySize in
            hostBytes { proxy_get_shared_data(keyData, keySize, $0, $1, &cas) }
        }
        guard let value else { return nil }
        return (value, cas)
    }

    /// Stores `value` under `key`. With a non-zero `cas`, the store only happens if the value
    /// is still at that version; otherwise the result is ``HostStatus/casMismatch``.
    @discardableResult
    public static func set(_ key: String, _ value: [UInt8], cas: UInt32 = 0) -> HostStatus {
        key.withBytes { keyData, keySize in
            value.withBytes { HostStatus(rawValue: proxy_set_shared_data(keyData, keySize, $0, $1, cas)) }
        }
    }
}
