import ArgumentParser
import Logging
import ServiceLifecycle
import ServiceMonitor
import Systemd
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `service-monitor watch`: monitor one instance and keep its up/down state in etcd.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        _superCommandName: ServiceMonitorCommand.name,
        abstract: "Check a service and keep its up/down state in etcd (runs until SIGTERM/SIGINT/SIGHUP).",
        discussion: """
        Registers <prefix>/<label>/instances/<service-id> on a lease of --ttl that this process keeps \
        alive, and rewrites it only when the state flips. Under a Type=notify unit it sends READY=1 \
        (see --ready-when), a one-line STATUS=, and WATCHDOG=1 while its check loop makes progress.
        """
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var instance: InstanceOptions

    @OptionGroup var checks: CheckOptions

    @Option(help: ArgumentHelp("When to send READY=1: started (registered) or healthy (first up record stored).", valueName: "when"))
    var readyWhen: String = "started"

    @Flag(help: "Do not release this service-id's startup lease at the first up.")
    var noReleaseLease = false

    @OptionGroup var metrics: MetricsOptions

    func run() async throws {
        let environment = Environment.current
        let settings = try Settings(global, environment: environment)
        let configuration = try validate(settings: settings, environment: environment)
        let metricsAddress = try metrics.validated()
        // A malformed WATCHDOG_USEC is the unit's configuration: refused before any etcd call.
        let watchdog = try Watchdog.fromEnvironment()

        settings.logTarget.bootstrap(identifier: "service-monitor", level: .info)
        let logger = Logger(label: "service-monitor.watch")
        let export = try await MetricsExport.start(metricsAddress, logger: logger)
        let (backend, backendServices) = try settings.makeBackend(logger: Logger(label: "service-monitor.etcd"))
        try await withHealthCheckSet(targets: configuration.targets, configuration: configuration.checks) { checks in
            try await run(
                configuration, checks: checks, watchdog: watchdog, backend: backend, backendServices: backendServices,
                metrics: export, settings: settings, logger: logger
            )
        }
    }

    private func run(
        _ configuration: MonitorConfiguration, checks: HealthCheckSet, watchdog: Watchdog?,
        backend: some StoreBackend, backendServices: [any Service], metrics: MetricsExport, settings: Settings, logger: Logger
    ) async throws {
        let (monitor, watchdogPinger) = MonitorServices.make(
            configuration, checks: checks, watchdog: watchdog, backend: backend,
            metrics: metrics.monitorMetrics(for: configuration), settings: settings, logger: logger
        )
        // The backend's services (after the metrics listener) come first so graceful shutdown
        // stops them last, after the monitor has deregistered through them.
        let services: [any Service] = metrics.services + backendServices + [monitor] + (watchdogPinger.map { [$0] } ?? [])
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: UnixSignal.gracefulStop, logger: logger)
        )
        try await group.run()
    }

    /// Everything checked before the first etcd call, each value once: bad input exits 64 having
    /// written nothing.
    func validate(settings: Settings, environment: [String: String]) throws -> MonitorConfiguration {
        guard let readyWhen = ReadyWhen(rawValue: readyWhen) else {
            throw BadInput(option: "--ready-when", message: "\(readyWhen.debugDescription): use started or healthy")
        }
        return try checks.configuration(
            instance: instance, settings: settings, environment: environment,
            readyWhen: readyWhen, releasesStartupLease: !noReleaseLease
        )
    }
}

enum Environment {
    static var current: [String: String] {
        var environment: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return environment
    }
}
