/// The rules every middleware entry follows, wherever it comes from (qpilot.yaml, the admin API,
/// qctl's own checks before it sends anything). Each returns why a value is refused, or the
/// value in its normal form.
public enum MiddlewareRules {
    /// Why a middleware name is not acceptable, or nil when it is.
    public static func nameProblem(_ name: String) -> String? {
        guard !name.isEmpty, name.count <= 63,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else {
            return "a name is 1-63 letters, digits, '-' or '_'; got '\(name)'"
        }
        return nil
    }

    public static let sha256Problem = "a sha256 is 64 hex digits (optionally after 'sha256:')"

    /// `sha256:ABC…` or `abc…` → `abc…`, or nil when it is not 64 hex digits.
    public static func normalizedSHA256(_ text: String) -> String? {
        var text = text.lowercased()
        if text.hasPrefix("sha256:") { text = String(text.dropFirst(7)) }
        return text.count == 64 && text.allSatisfy(\.isHexDigit) ? text : nil
    }

    public static let sourceProblem = "must not be empty: a path, http(s):// or oci:// reference"

    /// Why a fleet list is not acceptable, or nil when it is (nil itself means every fleet).
    public static func fleetsProblem(_ fleets: [String]) -> String? {
        if fleets.isEmpty { return "an empty fleet list would apply to no node; omit it for every fleet" }
        if let bad = fleets.first(where: { $0.isEmpty || $0 == FleetKey.everyOtherSpelling }) {
            return bad.isEmpty
                ? "a fleet name must not be empty"
                : "'\(FleetKey.everyOtherSpelling)' is not a fleet name: it stands for every fleet without middleware of its own"
        }
        return nil
    }
}
