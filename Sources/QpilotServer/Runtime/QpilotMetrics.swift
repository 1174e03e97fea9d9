import CoreMetrics
import Metrics
import Prometheus
import QpilotAPI
import Synchronization
import XDS

/// Every metric qpilot exposes at `/metrics`, in Prometheus' text format.
///
/// The xDS code records through swift-metrics' API (`Counter(label:)`, `Timer(label:)`), so it
/// needs no Prometheus types; this bootstraps swift-metrics with swift-prometheus' factory once per
/// process and renders the shared registry.
///
/// - `qpilot_connected_nodes{fleet}`: nodes with an open ADS stream.
/// - `qpilot_xds_responses_total{type}`, `qpilot_xds_nacks_total{type}`.
/// - `qpilot_xds_push_to_ack_seconds`: from sending a response to its ACK.
/// - `qpilot_module_fetches_total{result}`, `qpilot_module_validations_total{result}`.
/// - `qpilot_admin_requests_total{status}`.
/// - With `xds.tls`: `qpilot_xds_refused_streams_total{reason}` (CertificateAdmission,
///   PlaintextProbe) and `qpilot_enrolments_refused_total{reason}` (NodeEnrolment).
public final class QpilotMetrics: Sendable {
    /// swift-metrics' system is global to the process, so the registry behind it is too.
    public static let shared = QpilotMetrics()

    let registry: PrometheusCollectorRegistry
    private let fleetsSeen = Mutex(Set<String>())

    private init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Loopback pushes ACK in milliseconds; fleets far away in seconds.
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
    }

    /// Sets the connected-nodes gauge of every fleet seen so far (0 for a fleet whose nodes left).
    /// A label is a configured fleet, or `*` for every other: a node chooses its own fleet name,
    /// and each label would be a series kept for the life of the process.
    func updateConnectedNodes(_ nodes: [NodeStatus], configuredFleets: Set<String>) {
        var counts: [String: Int] = [:]
        for node in nodes where node.connected {
            counts[configuredFleets.contains(node.fleet) ? node.fleet : FleetKey.everyOther.description, default: 0] += 1
        }
        let fleets = fleetsSeen.withLock { seen in
            seen.formUnion(counts.keys)
            return seen
        }
        for fleet in fleets {
            Gauge(label: "qpilot_connected_nodes", dimensions: [("fleet", fleet)]).record(counts[fleet] ?? 0)
        }
    }

    func validation(ok: Bool) {
        Counter(label: "qpilot_module_validations_total", dimensions: [("result", ok ? "valid" : "invalid")]).increment()
    }

    func fetch(ok: Bool) {
        Counter(label: "qpilot_module_fetches_total", dimensions: [("result", ok ? "ok" : "error")]).increment()
    }

    func adminResponse(status: Int) {
        Counter(label: "qpilot_admin_requests_total", dimensions: [("status", "\(status)")]).increment()
    }

    /// The text exposition.
    func exposition() -> String { registry.emitToString() }
}
