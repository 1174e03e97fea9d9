/// A problem in qpilot.yaml, located by line and field so the operator can fix it.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    /// 1-based line, when known.
    public let line: Int?
    /// The dotted path of the field, such as `middleware[1].failurePolicy`.
    public let field: String
    public let message: String

    public init(line: Int?, field: String, _ message: String) {
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        let location = line.map { "line \($0)" } ?? "config"
        return field.isEmpty ? "\(location): \(message)" : "\(location): \(field): \(message)"
    }
}
