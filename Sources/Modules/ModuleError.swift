/// Why a module could not be loaded or stored, in terms an operator can act on.
public struct ModuleError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
