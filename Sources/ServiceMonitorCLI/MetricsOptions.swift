import ArgumentParser
import CoreMetrics
import Logging
import MetricsEndpoint
import Prometheus
import ServiceLifecycle
import ServiceMonitor

/// `--metrics-address`, as `watch` and `run` take it.
struct MetricsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Serve Prometheus metrics at http://<address>/metrics (default: off; docs/metrics.md).", valueName: "host:port"))
    var metricsAddress: String?

    /// `host:port` or `[ipv6]:port`, port 1–65535; `nil` when not given. Bad input (exit 64)
    /// before any store call.
    func validated() throws(BadInput) -> (host: String, port: Int)? {
        guard let text = metricsAddress else { return nil }
        let bad = BadInput(option: "--metrics-address", message: "\(text.quotedForError): use host:port, e.g. 127.0.0.1:9464 or [::1]:9464")
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw bad
        }
        let host = text[..<colon]
        guard Settings.isEndpointHost(host) else { throw bad }
        let bare = host.hasPrefix("[") ? host.dropFirst().dropLast() : host
        return (String(bare), port)
    }
}

/// What `--metrics-address` adds: the factory the monitor records through and the listener as a
/// service of the group. Without the option, a factory that records nothing and no listener.
struct MetricsExport {
    let factory: any MetricsFactory
    let endpoint: MetricsEndpoint?

    /// Listens at once, so a taken port fails before the store is touched.
    static func start(_ address: (host: String, port: Int)?, logger: Logger) async throws -> MetricsExport {
        guard let address else { return MetricsExport(factory: NOOPMetricsHandler.instance, endpoint: nil) }
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusFactory(
            registry: registry,
            help: Dictionary(uniqueKeysWithValues: MonitorMetrics.Metric.allCases.map { ($0.rawValue, $0.help) }),
            durationBuckets: [MonitorMetrics.Metric.checkDuration.rawValue: MonitorMetrics.checkDurationBuckets]
        )
        MonitorMetrics.recordBuildInfo(version: ServiceMonitorVersion.current, factory: factory)
        let endpoint = try await MetricsEndpoint.bind(host: address.host, port: address.port, registry: registry, logger: logger)
        return MetricsExport(factory: factory, endpoint: endpoint)
    }

    func monitorMetrics(for configuration: MonitorConfiguration) -> MonitorMetrics {
        MonitorMetrics(label: configuration.label, serviceID: configuration.serviceID, targets: configuration.targets, factory: factory)
    }

    var services: [any Service] { endpoint.map { [$0] } ?? [] }
}
