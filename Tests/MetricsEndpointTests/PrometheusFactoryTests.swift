import CoreMetrics
import MetricsEndpoint
import Prometheus
import Testing
import TestSupport

/// The factory the monitor records through: help lines, types and histogram units as
/// Prometheus and `promtool` expect them.
@Suite("Prometheus factory", .tags(.fast))
struct PrometheusFactoryTests {
    @Test func everyMetricGetsItsHelpAndTypeAndTimersAreHistogramsInSeconds() {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusFactory(
            registry: registry,
            help: ["demo_total": "Things counted.", "demo_seconds": "Time taken.", "demo_state": "A state."],
            durationBuckets: ["demo_seconds": [.milliseconds(1), .milliseconds(100)]]
        )
        Counter(label: "demo_total", dimensions: [("label", "web")], factory: factory).increment(by: 2)
        Gauge(label: "demo_state", dimensions: [("label", "web")], factory: factory).record(1)
        Timer(label: "demo_seconds", dimensions: [("label", "web")], factory: factory).recordNanoseconds(50_000_000)

        let text = registry.emitToString()
        #expect(text.contains("# HELP demo_total Things counted.\n# TYPE demo_total counter\ndemo_total{label=\"web\"} 2\n"), "\(text)")
        #expect(text.contains("# HELP demo_state A state.\n# TYPE demo_state gauge\n"), "\(text)")
        #expect(text.contains("# TYPE demo_seconds histogram\n"), "\(text)")
        #expect(text.contains(#"demo_seconds_bucket{label="web",le="0.001"} 0"#), "\(text)")
        #expect(text.contains(#"demo_seconds_bucket{label="web",le="0.1"} 1"#), "\(text)")
        #expect(text.contains(#"demo_seconds_sum{label="web"} 0.05"#), "\(text)")
        #expect(text.contains(#"demo_seconds_count{label="web"} 1"#), "\(text)")
    }

    @Test func destroyingAMetricRemovesItsSeries() {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusFactory(registry: registry, help: ["gone_total": "Soon gone."])
        let counter = Counter(label: "gone_total", dimensions: [], factory: factory)
        counter.increment()
        #expect(registry.emitToString().contains("gone_total 1"))
        counter.destroy()
        #expect(!registry.emitToString().contains("gone_total"))
    }
}
