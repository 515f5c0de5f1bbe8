import ArgumentParser
import Logging
import ServiceLifecycle
import ServiceMonitor
import Systemd
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// `service-monitor run -- COMMAND`: one process per instance — the startup lease, the command
/// with the instances up, its checks and its record.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        _superCommandName: ServiceMonitorCommand.name,
        abstract: "Take the startup lease, run COMMAND with the instances up, check it as watch does, and let the next instance in once it is healthy.",
        discussion: """
        Waits for the startup lease as acquire-lease does (exits 1, nothing started, when \
        --acquire-timeout runs out), then runs COMMAND as its child with every literal {hosts} in \
        its arguments replaced by the instances up (as hosts renders them) and SERVICE_MONITOR_HOSTS \
        set, both empty for the first instance. Registers and checks it as watch does; at the first \
        up, once that record is stored, it releases the lease and sends READY=1. When COMMAND exits \
        it deregisters at once and exits with COMMAND's status (128+N for signal N). On \
        SIGTERM/SIGINT/SIGHUP it deregisters first, then forwards the signal to COMMAND and sends \
        SIGKILL after --stop-timeout. COMMAND never outlives this process.
        """
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var instance: InstanceOptions

    @OptionGroup var checks: CheckOptions

    @OptionGroup var lease: LeaseOptions

    /// How {hosts} and SERVICE_MONITOR_HOSTS list the instances (json: the variable only).
    @OptionGroup var rendering: HostFormatOptions

    @Option(help: ArgumentHelp("How long COMMAND has to stop after the forwarded signal before SIGKILL.", valueName: "duration"))
    var stopTimeout: String = "90s"

    @OptionGroup var metrics: MetricsOptions

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The service to run, after --: each literal {hosts} in its arguments becomes the instances up.", valueName: "command"))
    var command: [String] = []

    /// What `run` was asked to do, validated before any etcd call.
    struct Plan {
        var monitor: MonitorConfiguration
        var request: AcquireRequest
        var hostFormat: HostFormat
        var command: ChildCommand
        var stopTimeout: Duration
        var metricsAddress: (host: String, port: Int)?
    }

    func run() async throws {
        let environment = Environment.current
        let settings = try Settings(global, environment: environment)
        let plan = try validate(settings: settings, environment: environment)
        // A malformed WATCHDOG_USEC is the unit's configuration: refused before any etcd call.
        let watchdog = try Watchdog.fromEnvironment()

        settings.logTarget.bootstrap(identifier: "service-monitor", level: .info)
        let logger = Logger(label: "service-monitor.run")
            .withInstanceContext(label: plan.monitor.label, serviceID: plan.monitor.serviceID, host: plan.monitor.host)
        // Served from here on, the wait for the lease included.
        let export = try await MetricsExport.start(plan.metricsAddress, logger: logger)
        let metrics = export.monitorMetrics(for: plan.monitor)
        // Both trapped before the first etcd call: the first ends the wait for the lease, the
        // second the service group (a signal between the two is kept for it).
        let leaseSignals = await UnixSignalsSequence(trapping: UnixSignal.gracefulStop)
        let runSignals = await UnixSignalsSequence(trapping: UnixSignal.gracefulStop)

        guard let turn = try await settings.withBackend({ backend in
            try await takeTurn(plan, backend: backend, logger: logger) {
                for await _ in leaseSignals { return }
            }
        }) else {
            throw ExitCode(ExitStatus.negative.rawValue)
        }
        metrics.recordStartupLease(held: true)
        let up = turn.up
        let hosts = up.isEmpty ? "" : try plan.hostFormat.render(up)
        let listed = hosts.hasSuffix("\n") ? String(hosts.dropLast()) : hosts
        let command = plan.command.arguments(hosts: listed)
        logger.notice(
            "starting \(command[0]) with \(up.count) instance\(up.count == 1 ? "" : "s") up\(up.isEmpty ? "" : ": \(listed)")",
            metadata: ["service_monitor.hosts": "\(listed)"]
        )

        let (backend, backendServices) = try settings.makeBackend(logger: Logger(label: "service-monitor.etcd"))
        let exit = ChildExit()
        try await withHealthCheckSet(targets: plan.monitor.targets, configuration: plan.monitor.checks) { checks in
            let stopRequest = StopRequest()
            let child = SupervisedChild(
                command: command, hosts: listed, stopTimeout: plan.stopTimeout, stopRequest: stopRequest, exit: exit, logger: logger
            )
            try await Self.supervise(
                child, monitor: plan.monitor, checks: checks, watchdog: watchdog, signals: runSignals, stopRequest: stopRequest,
                lease: (plan.request.leaseTimeout, turn.leaseEnds), backend: backend,
                // The metrics listener stops last, with the store connection.
                backendServices: export.services + backendServices, metrics: metrics, settings: settings, logger: logger
            )
        }
        // The record is gone; the child's status is ours.
        if let status = exit.status, status != 0 { throw ExitCode(status) }
    }

    /// This instance's turn: the instances up when it began, and when its startup lease ends
    /// unless released.
    struct Turn: Sendable {
        var up: [InstanceRecord]
        var leaseEnds: ContinuousClock.Instant
    }

    /// Waits for the startup lease, then reads the instances up (one linearizable read).
    /// `nil`: not acquired (timed out or interrupted), nothing started.
    private func takeTurn(
        _ plan: Plan, backend: some StoreBackend, logger: Logger, interrupted: @escaping @Sendable () async -> Void
    ) async throws -> Turn? {
        let label = plan.monitor.label, serviceID = plan.monitor.serviceID
        let lease = StartupLease(semaphore: backend.semaphore, label: label, serviceID: serviceID, logger: logger)
        switch try await lease.acquire(plan.request, interrupted: interrupted) {
        case .acquired, .alreadyHeld:
            // Either way the lease now runs a full --lease-timeout.
            let leaseEnds = ContinuousClock.now + plan.request.leaseTimeout
            let up = try await Discovery(registry: backend.registry, label: label).current()
                .filter { $0.serviceID != serviceID.rawValue }
            return Turn(up: up, leaseEnds: leaseEnds)
        case .timedOut:
            Output.error("startup lease for \(label) not acquired within --acquire-timeout \(plan.request.acquireTimeout.operatorDescription); left the queue, nothing started")
            return nil
        case .interrupted:
            Output.error("interrupted while waiting for the startup lease for \(label); left the queue, nothing started")
            return nil
        }
    }

    /// One service group, shut down in this order: the stop signal, the watchdog, the monitor
    /// (deregisters), the child (signal, then SIGKILL), the store connection.
    private static func supervise(
        _ child: SupervisedChild, monitor configuration: MonitorConfiguration, checks: HealthCheckSet, watchdog: Watchdog?,
        signals: UnixSignalsSequence, stopRequest: StopRequest, lease: (timeout: Duration, ends: ContinuousClock.Instant),
        backend: some StoreBackend, backendServices: [any Service], metrics: MonitorMetrics, settings: Settings, logger: Logger
    ) async throws {
        let (monitor, watchdogPinger) = MonitorServices.make(
            configuration, checks: checks, watchdog: watchdog, backend: backend, metrics: metrics, settings: settings, logger: logger
        )
        // Whichever ends first — the child, a signal, the monitor's permanent error — stops the rest in order.
        func stopsGroup(_ service: any Service) -> ServiceGroupConfiguration.ServiceConfiguration {
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        var services = backendServices.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        services += [stopsGroup(child), stopsGroup(monitor)]
        if let watchdogPinger { services.append(.init(service: watchdogPinger)) }
        services.append(stopsGroup(StopOnSignal(signals: signals, request: stopRequest)))
        let notice = LeaseTimeoutNotice(
            semaphore: backend.semaphore, configuration: configuration, leaseTimeout: lease.timeout, ends: lease.ends,
            metrics: metrics, logger: logger
        )
        services.append(.init(service: notice, successTerminationBehavior: .ignore, failureTerminationBehavior: .ignore))
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await group.run()
    }

    /// Everything checked before the first etcd call, each value once: bad input exits 64 having
    /// written nothing.
    func validate(settings: Settings, environment: [String: String]) throws -> Plan {
        let command = try ChildCommand(command, environment: environment)
        let hostFormat = try rendering.hostFormat()
        if hostFormat.layout == .json, command.takesHosts {
            throw BadInput(option: "--format", message: "json cannot fill {hosts} in an argument: use csv or lines (json goes to SERVICE_MONITOR_HOSTS only)")
        }
        let stopTimeout = try Duration(parsingPositive: stopTimeout, option: "--stop-timeout")
        // READY=1 at the first up: `After=` this unit means "healthy"; the lease is released then.
        let monitor = try checks.configuration(
            instance: instance, settings: settings, environment: environment, readyWhen: .healthy, releasesStartupLease: true
        )
        let request = try lease.request(host: monitor.host)
        return Plan(
            monitor: monitor, request: request, hostFormat: hostFormat, command: command, stopTimeout: stopTimeout,
            metricsAddress: try metrics.validated()
        )
    }
}

/// Returns at the first SIGTERM, SIGINT or SIGHUP, having noted which, so the group stops.
private struct StopOnSignal: Service {
    let signals: UnixSignalsSequence
    let request: StopRequest

    func run() async {
        await cancelWhenGracefulShutdown {
            for await signal in signals {
                request.record(signal.rawValue)
                return
            }
        }
    }
}

/// Says so when the startup lease runs out before the first up: the next instance may start
/// then, while this one goes on running its service.
private struct LeaseTimeoutNotice<Semaphore: StartupSemaphore>: Service {
    let semaphore: Semaphore
    let configuration: MonitorConfiguration
    let leaseTimeout: Duration
    let ends: ContinuousClock.Instant
    let metrics: MonitorMetrics
    let logger: Logger

    func run() async {
        await cancelWhenGracefulShutdown {
            do {
                // Still held just before its end: no first up yet (the monitor releases it then).
                try await Task.sleep(until: ends - .milliseconds(500), clock: .continuous)
                guard try await semaphore.holds(configuration.serviceID, of: configuration.label) else { return }
                try await Task.sleep(until: ends, clock: .continuous)
            } catch {
                return
            }
            metrics.recordStartupLease(held: false)
            logger.warning(
                "the startup lease of \(configuration.label) ran out (--lease-timeout \(leaseTimeout.operatorDescription)) before \(configuration.serviceID) was healthy: the next instance may start; \(configuration.serviceID) goes on running"
            )
        }
    }
}
