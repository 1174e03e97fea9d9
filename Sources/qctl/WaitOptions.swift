import ArgumentParser
import Foundation

/// A `--timeout` such as `60s`, `500ms`, `2m` or `1h`; a bare number is seconds.
struct WaitTimeout: ExpressibleByArgument, CustomStringConvertible {
    let duration: Duration
    let description: String

    init?(argument: String) {
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        let unit = units.first { argument.hasSuffix($0.suffix) && Double(argument.dropLast($0.suffix.count)) != nil }
        let number = Double(unit.map { String(argument.dropLast($0.suffix.count)) } ?? argument)
        // Double accepts "nan" and "inf"; neither is a deadline.
        guard let number, number.isFinite, number > 0 else { return nil }
        let seconds = number * (unit?.seconds ?? 1)
        guard seconds <= 7 * 24 * 3600 else { return nil }
        duration = .milliseconds(Int64((seconds * 1000).rounded(.up)))
        description = argument
    }

    static var defaultValueDescription: String { "60s" }
}

/// `--wait` and `--timeout`, shared by every command that writes a revision.
struct WaitOptions: ParsableArguments {
    @Flag(help: "Wait until every connected node of the changed fleets ACKs the revision (exit 2 on a NACK, 3 on timeout).")
    var wait = false

    @Option(help: ArgumentHelp("How long --wait waits, such as 90s, 500ms or 2m (default: 60s).", valueName: "duration"))
    var timeout: WaitTimeout?

    func validate() throws {
        if timeout != nil, !wait { throw ValidationError("--timeout applies only with --wait") }
    }

    var deadline: WaitTimeout { timeout ?? WaitTimeout(argument: "60s")! }
}

/// The options of a write: `--if-match`, `--wait`/`--timeout` and `--output`.
struct WriteOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Write only if the head revision is still REV (else 409 stale_revision).", valueName: "rev"))
    var ifMatch: Int?

    @OptionGroup var wait: WaitOptions

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let ifMatch, ifMatch < 0 { throw ValidationError("--if-match must be a revision number, 0 or more") }
    }
}
