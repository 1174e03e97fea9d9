/// Why a module would not load in Envoy: every problem found, not only the first.
public struct ModuleValidationError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// The problems, in the order they were found (structure, ABI marker, allocator, imports,
    /// exports, function bodies).
    public let problems: [ModuleProblem]

    /// An error listing `problems`, which must not be empty.
    public init(_ problems: [ModuleProblem]) {
        precondition(!problems.isEmpty, "a validation error needs at least one problem")
        self.problems = problems
    }

    /// True when some problem has this code.
    public func contains(_ code: ModuleProblem.Code) -> Bool {
        problems.contains { $0.code == code }
    }

    /// All problems, one per line.
    public var description: String {
        if problems.count == 1 { return "Envoy would refuse this module: \(problems[0])" }
        let lines = problems.map { "  - \($0)" }.joined(separator: "\n")
        return "Envoy would refuse this module (\(problems.count) problems):\n\(lines)"
    }
}
