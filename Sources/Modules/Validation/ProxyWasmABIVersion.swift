/// A Proxy-Wasm ABI version that Envoy 1.40 recognises by its export marker.
public enum ProxyWasmABIVersion: String, Sendable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    /// ABI 0.1.0, marker `proxy_abi_version_0_1_0`.
    case v0_1_0 = "0.1.0"
    /// ABI 0.2.0, marker `proxy_abi_version_0_2_0`.
    case v0_2_0 = "0.2.0"
    /// ABI 0.2.1, marker `proxy_abi_version_0_2_1`.
    case v0_2_1 = "0.2.1"

    /// The function a module exports to declare this version, e.g. `proxy_abi_version_0_2_1`.
    // Spelt out rather than derived from `rawValue`: validation compares every export name with
    // every marker, and Foundation's `replacingOccurrences` made that most of a millisecond.
    public var marker: String {
        switch self {
        case .v0_1_0: "proxy_abi_version_0_1_0"
        case .v0_2_0: "proxy_abi_version_0_2_0"
        case .v0_2_1: "proxy_abi_version_0_2_1"
        }
    }

    /// The version declared by an export name, if the name is one of the markers.
    public init?(marker: String) {
        guard let version = Self.allCases.first(where: { $0.marker == marker }) else { return nil }
        self = version
    }

    /// The prefix shared by every marker, known or not (`proxy_abi_version_0_3_0` is not known).
    static let markerPrefix = "proxy_abi_version_"

    /// `0.2.1`.
    public var description: String { rawValue }

    /// Older versions first.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
