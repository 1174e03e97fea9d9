/// Why a module could not be loaded or stored, in terms an operator can act on.
public struct ModuleError: Error, Equatable, CustomStringConvertible {
    public let message: String
    /// The module was fetched but is not the one its pinned sha256 names.
    public let isDigestMismatch: Bool

    public init(_ message: String, isDigestMismatch: Bool = false) {
        self.message = message
        self.isDigestMismatch = isDigestMismatch
    }

    public var description: String { message }
}
