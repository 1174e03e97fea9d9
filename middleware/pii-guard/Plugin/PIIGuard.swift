// pii-guard: finds personal data (card numbers, e-mail addresses, US SSNs, custom literals) in
// outgoing requests and reports, scrubs or blocks it. Configuration: PIIGuardConfig.swift.
import ProxyWasm

@main
enum PIIGuard {
    static func main() {
        setRootContext { PIIGuardRoot() }
    }
}

/// One configured pii-guard instance: its configuration and its metrics.
final class PIIGuardRoot: RootContext {
    private(set) var config = PIIGuardConfig(mode: .report)
    private(set) var metrics: PIIGuardMetrics? = nil

    override func onConfigure(configuration: [UInt8]) -> Bool {
        switch PIIGuardConfig.parse(configuration) {
        case .failure(let error):
            Log.error("pii-guard: configuration rejected: \(error.message)")
            return false
        case .success(let parsed):
            config = parsed
            metrics = PIIGuardMetrics(config: parsed)
            Log.info("pii-guard: configured, mode \(parsed.mode.rawValue), \(PIIGuardMetrics.describe(parsed))")
            return true
        }
    }

    override func makeHTTPContext() -> HTTPContext? {
        guard let metrics else { return nil }
        return PIIGuardExchange(config: config, metrics: metrics)
    }
}

/// Counters by kind and by action, plus the module's heap gauges.
struct PIIGuardMetrics {
    let findings: [Counter]
    let exchangesWithFindings: Counter
    let blocked: Counter
    let scrubbed: Counter
    let oversizePassed: Counter
    let oversizeBlocked: Counter
    let heap: HeapGauges

    init(config: PIIGuardConfig) {
        let prefix = config.metricPrefix
        var findings: [Counter] = []
        for index in 0..<(PIIKind.builtInCount + config.detector.literals.count) {
            findings.append(Counter("\(prefix).found.\(config.detector.name(of: PIIKind(index: index)))"))
        }
        self.findings = findings
        exchangesWithFindings = Counter("\(prefix).exchanges_with_findings")
        blocked = Counter("\(prefix).blocked")
        scrubbed = Counter("\(prefix).scrubbed")
        oversizePassed = Counter("\(prefix).oversize_passed")
        oversizeBlocked = Counter("\(prefix).oversize_blocked")
        heap = HeapGauges(prefix: prefix)
    }

    func record(_ counts: FindingCounts) {
        for kind in counts.kindsFound where kind.index < findings.count {
            findings[kind.index].increment(by: Int64(counts[kind]))
        }
    }

    static func describe(_ config: PIIGuardConfig) -> String {
        var detectors: [String] = []
        if config.detector.cards { detectors.append("card") }
        if config.detector.emails { detectors.append("email") }
        if config.detector.ssns { detectors.append("ssn") }
        for pattern in config.detector.literals { detectors.append(pattern.name) }
        var parts: [String] = []
        if config.scope.contains(.requestBody) { parts.append("request body") }
        if config.scope.contains(.query) { parts.append("query") }
        if config.scope.contains(.headers) { parts.append("headers") }
        if config.scope.contains(.responseBody) { parts.append("response body") }
        return "detectors " + detectors.joined(separator: ",") + ", scanning " + parts.joined(separator: ", ")
    }
}
