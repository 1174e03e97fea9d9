/// The host's clock.
public enum Clock {
    /// Wall-clock time in nanoseconds since the Unix epoch.
    public static var nanoseconds: UInt64 {
        var now: UInt64 = 0
        _ = proxy_get_current_time_nanoseconds(&now)
        return now
    }

    /// Wall-clock time in milliseconds since the Unix epoch.
    public static var milliseconds: UInt64 { nanoseconds / 1_000_000 }
}
