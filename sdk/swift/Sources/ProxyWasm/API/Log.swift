/// Envoy's log levels, as Proxy-Wasm numbers them.
public enum LogLevel: UInt32, Comparable, Sendable {
    /// Trace.
    case trace = 0
    /// Debug.
    case debug = 1
    /// Info.
    case info = 2
    /// Warning.
    case warn = 3
    /// Error.
    case error = 4
    /// Critical.
    case critical = 5

    /// Orders levels from trace to critical.
    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

/// Writes to Envoy's log (the `wasm` logger), tagged with the plugin's name by Envoy.
///
/// Messages are autoclosures: below the level Envoy logs at, the message is never built.
public enum Log {
    /// The level Envoy currently logs the `wasm` logger at.
    public static var level: LogLevel {
        var raw: UInt32 = 2
        _ = proxy_get_log_level(&raw)
        return LogLevel(rawValue: raw) ?? .info
    }

    /// Whether a message at `level` would be written.
    public static func isEnabled(_ level: LogLevel) -> Bool {
        level >= Log.level
    }

    /// Logs `message` at `level`.
    public static func write(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard isEnabled(level) else { return }
        let text = message()
        _ = text.withBytes { proxy_log(level.rawValue, $0, $1) }
    }

    /// Logs at trace level.
    public static func trace(_ message: @autoclosure () -> String) { write(.trace, message()) }
    /// Logs at debug level.
    public static func debug(_ message: @autoclosure () -> String) { write(.debug, message()) }
    /// Logs at info level.
    public static func info(_ message: @autoclosure () -> String) { write(.info, message()) }
    /// Logs at warning level.
    public static func warn(_ message: @autoclosure () -> String) { write(.warn, message()) }
    /// Logs at error level.
    public static func error(_ message: @autoclosure () -> String) { write(.error, message()) }
    /// Logs at critical level.
    public static func critical(_ message: @autoclosure () -> String) { write(.critical, message()) }
}
