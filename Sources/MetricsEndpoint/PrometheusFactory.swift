public import CoreMetrics
public import Prometheus

/// A swift-metrics factory over a Prometheus registry that gives each metric its `# HELP` line
/// (swift-prometheus' own factory registers every metric without one, which `promtool check
/// metrics` rejects) and its histogram buckets.
public struct PrometheusFactory: MetricsFactory, Sendable {
    public let registry: PrometheusCollectorRegistry
    private let help: [String: String]
    private let durationBuckets: [String: [Duration]]

    /// `help` and `durationBuckets` by metric name; a timer without buckets of its own gets
    /// ``defaultDurationBuckets``.
    public init(registry: PrometheusCollectorRegistry, help: [String: String], durationBuckets: [String: [Duration]] = [:]) {
        self.registry = registry
        self.help = help
        self.durationBuckets = durationBuckets
    }

    /// Prometheus' own defaults, 5 ms to 10 s.
    public static let defaultDurationBuckets: [Duration] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10].map { .seconds($0) }

    /// The whole name in `metricName` (an empty unit adds nothing to it), with its help.
    private func descriptor(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? "")
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        // A value histogram is nothing this product records; every recorder is a gauge.
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(
            descriptor: descriptor(label), labels: dimensions, buckets: durationBuckets[label] ?? Self.defaultDurationBuckets
        )
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
