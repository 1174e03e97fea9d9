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

    /// The most middleware one chain holds, and fleets one middleware names, and fleets a chain
    /// names in all. Each fleet named costs a translation and a snapshot at every publish, so one
    /// request must not be able to ask for thousands.
    public static let maxMiddleware = 1000
    public static let maxFleetsPerMiddleware = 100
    public static let maxFleets = 1000

    /// Why a chain of `count` middleware is too long, or nil when it is not.
    public static func chainLengthProblem(_ count: Int) -> String? {
        count > maxMiddleware ? "the chain holds \(count) middleware; at most \(maxMiddleware) fit in one chain" : nil
    }

    /// Why a fleet list is not acceptable, or nil when it is (nil itself means every fleet).
    public static func fleetsProblem(_ fleets: [String]) -> String? {
        if fleets.isEmpty { return "an empty fleet list would apply to no node; omit it for every fleet" }
        if fleets.count > maxFleetsPerMiddleware {
            return "\(fleets.count) fleets; a middleware names at most \(maxFleetsPerMiddleware) (omit the list for every fleet)"
        }
        if let bad = fleets.first(where: { $0.isEmpty || $0 == FleetKey.everyOtherSpelling }) {
            return bad.isEmpty
                ? "a fleet name must not be empty"
                : "'\(FleetKey.everyOtherSpelling)' is not a fleet name: it stands for every fleet without middleware of its own"
        }
        return nil
    }
}
