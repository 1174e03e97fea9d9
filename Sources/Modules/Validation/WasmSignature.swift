import Foundation
import WasmTypes

/// A WebAssembly value type, as it appears in a function signature.
public enum WasmValueType: String, Sendable, Codable, Hashable, CaseIterable {
    /// A number or vector type, spelt as in the WebAssembly text format.
    case i32, i64, f32, f64, v128
    /// Any reference type (`funcref`, `externref`, …). Envoy never uses one at the ABI boundary.
    case ref

    init(_ type: ValueType) {
        switch type {
        case .i32: self = .i32
        case .i64: self = .i64
        case .f32: self = .f32
        case .f64: self = .f64
        case .v128: self = .v128
        case .ref: self = .ref
        }
    }
}

/// The parameter and result types of a function, printed as `(i32, i32) -> i32`.
public struct WasmSignature: Sendable, Codable, Hashable, CustomStringConvertible {
    /// The parameter types, in order.
    public let parameters: [WasmValueType]
    /// The result types, in order; empty for a function that returns nothing.
    public let results: [WasmValueType]

    /// A signature from its parts.
    public init(parameters: [WasmValueType], results: [WasmValueType]) {
        self.parameters = parameters
        self.results = results
    }

    init(_ type: FunctionType) {
        self.init(parameters: type.parameters.map(WasmValueType.init), results: type.results.map(WasmValueType.init))
    }

    /// Parses the notation used by the host table: `(i32, i64) -> i32`, `(i32) -> ()` or `() -> (i32, i32)`.
    /// Only for literals written in this module, so a malformed one is a programming error.
    init(_ text: String) {
        let halves = text.split(separator: "->", omittingEmptySubsequences: false)
        precondition(halves.count == 2, "bad signature literal \(text)")
        func types(_ part: Substring) -> [WasmValueType] {
            var trimmed = Substring(part.trimmingCharacters(in: .whitespaces))
            if trimmed.hasPrefix("(") { trimmed = trimmed.dropFirst().dropLast() }
            return trimmed.split(separator: ",").map { name in
                guard let type = WasmValueType(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                    preconditionFailure("bad value type in signature literal \(text)")
                }
                return type
            }
        }
        self.init(parameters: types(halves[0]), results: types(halves[1]))
    }

    /// `(i32, i32) -> i32`, `(i32) -> ()`.
    public var description: String {
        let parameterList = "(\(parameters.map(\.rawValue).joined(separator: ", ")))"
        let resultList = results.count == 1 ? results[0].rawValue : "(\(results.map(\.rawValue).joined(separator: ", ")))"
        return "\(parameterList) -> \(resultList)"
    }
}
