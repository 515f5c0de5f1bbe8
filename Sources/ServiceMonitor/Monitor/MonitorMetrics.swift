public import CoreMetrics

/// What `watch` and `run` publish for scraping (docs/metrics.md), recorded through swift-metrics
/// into whichever factory is given: the Prometheus endpoint's under `--metrics-address`, else one
/// that records nothing. The check metrics mean what blackbox_exporter's `probe_*` mean.
public struct MonitorMetrics: Sendable {
    /// Every metric's name and help text, as docs/metrics.md lists them.
    public enum Metric: String, CaseIterable, Sendable {
        case checkSuccess = "service_monitor_check_success"
        case checkDuration = "service_monitor_check_duration_seconds"
        case checkHTTPStatusCode = "service_monitor_check_http_status_code"
        case up = "service_monitor_up"
        case transitions = "service_monitor_transitions_total"
        case storeUp = "service_monitor_store_up"
        case storeErrors = "service_monitor_store_errors_total"
        case registrations = "service_monitor_registrations_total"
        case startupLeaseHeld = "service_monitor_startup_lease_held"
        case buildInfo = "service_monitor_build_info"

        public var help: String {
            switch self {
            case .checkSuccess: "Whether the last check succeeded (1) or failed (0)."
            case .checkDuration: "How long each check took, in seconds."
            case .checkHTTPStatusCode: "The HTTP status of the last check's response; 0 when none was received."
            case .up: "The state of the record last stored for this instance: 1 up, 0 down or starting."
            case .transitions: "Changes of state between up and down since start."
            case .storeUp: "Whether the store answered the last registration or write (1) or not (0)."
            case .storeErrors: "Registrations and writes the store failed or refused."
            case .registrations: "Registrations made: 1 after start, one more for each registration re-established."
            case .startupLeaseHeld: "Whether this process holds its service-id's startup lease (1) or not (0)."
            case .buildInfo: "Always 1; the version label says which service-monitor runs."
            }
        }
    }

    /// Histogram buckets for ``Metric/checkDuration``: 1 ms to 10 s, check timeouts included.
    public static let checkDurationBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
    ]

    /// One check's figures.
    private struct Check: Sendable {
        let success: Gauge
        let duration: Timer
        let httpStatusCode: Gauge
    }

    private let checks: [Check]
    private let up: Gauge
    private let transitions: Counter
    private let storeUp: Gauge
    private let storeErrors: Counter
    private let registrations: Counter
    private let startupLeaseHeld: Gauge

    /// Labelled `label` and `service_id`; the check metrics also `check` (the target as given)
    /// when the instance has several checks.
    public init(label: Label, serviceID: ServiceID, targets: [CheckTarget], factory: any MetricsFactory) {
        let instance = [("label", label.rawValue), ("service_id", serviceID.rawValue)]
        checks = targets.map { target in
            let dimensions = targets.count > 1 ? instance + [("check", target.description)] : instance
            return Check(
                success: Gauge(label: Metric.checkSuccess.rawValue, dimensions: dimensions, factory: factory),
                duration: Timer(label: Metric.checkDuration.rawValue, dimensions: dimensions, factory: factory),
                httpStatusCode: Gauge(label: Metric.checkHTTPStatusCode.rawValue, dimensions: dimensions, factory: factory)
            )
        }
        up = Gauge(label: Metric.up.rawValue, dimensions: instance, factory: factory)
        transitions = Counter(label: Metric.transitions.rawValue, dimensions: instance, factory: factory)
        storeUp = Gauge(label: Metric.storeUp.rawValue, dimensions: instance, factory: factory)
        storeErrors = Counter(label: Metric.storeErrors.rawValue, dimensions: instance, factory: factory)
        registrations = Counter(label: Metric.registrations.rawValue, dimensions: instance, factory: factory)
        // Created here, every series is there from the start: a query finds 0, not nothing.
        startupLeaseHeld = Gauge(label: Metric.startupLeaseHeld.rawValue, dimensions: instance, factory: factory)
    }

    /// Records nothing: `watch` and `run` without `--metrics-address`, and tests.
    public static func disabled(for configuration: MonitorConfiguration) -> MonitorMetrics {
        MonitorMetrics(
            label: configuration.label, serviceID: configuration.serviceID, targets: configuration.targets,
            factory: NOOPMetricsHandler.instance
        )
    }

    /// `service_monitor_build_info{version}`, set to 1.
    public static func recordBuildInfo(version: String, factory: any MetricsFactory) {
        Gauge(label: Metric.buildInfo.rawValue, dimensions: [("version", version)], factory: factory).record(1)
    }

    func record(_ round: CheckRound) {
        for (check, result) in zip(checks, round.each) {
            check.success.record(result.isUp ? 1 : 0)
            check.duration.recordNanoseconds(result.latency.nanoseconds)
            check.httpStatusCode.record(result.httpStatus ?? 0)
        }
    }

    func recordTransition() {
        transitions.increment()
    }

    func recordStored(_ state: InstanceRecord.State) {
        up.record(state == .up ? 1 : 0)
        storeUp.record(1)
    }

    func recordRegistered() {
        registrations.increment()
        storeUp.record(1)
    }

    func recordStoreError() {
        storeErrors.increment()
        storeUp.record(0)
    }

    public func recordStartupLease(held: Bool) {
        startupLeaseHeld.record(held ? 1 : 0)
    }
}
