import ArgumentParser
import Logging
import ServiceMonitor
import Systemd
import UnixSignals

/// `service-monitor acquire-lease`: wait for one of a label's startup slots.
struct AcquireLeaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acquire-lease",
        _superCommandName: ServiceMonitorCommand.name,
        abstract: "Block until this service id holds one of the label's startup slots (FIFO), or give up.",
        discussion: """
        Exits 0 once held; the slot outlives this process and ends on release-lease, on the first \
        healthy check of this id's watch, or after --lease-timeout. Asking again while holding renews \
        the slot and exits 0 at once. Exits 1 when --acquire-timeout runs out or on SIGTERM/SIGINT/SIGHUP, \
        having left the queue. While waiting it logs its queue position and the holders, and under a \
        notify socket extends the unit's start timeout (EXTEND_TIMEOUT_USEC).
        """
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var instance: InstanceOptions

    @OptionGroup var lease: LeaseOptions

    func run() async throws {
        let environment = Environment.current
        let settings = try Settings(global, environment: environment)
        let (label, serviceID) = try instance.validated()
        // Only informative in the entries; an explicit bad --host-ip was refused by Settings.
        let request = try lease.request(host: try? settings.hostAddress(environment: environment))

        settings.logTarget.bootstrap(identifier: "service-monitor", level: .info)
        // Trapped before the first etcd call, so a SIGTERM or SIGHUP at any point still leaves the queue.
        let signals = await UnixSignalsSequence(trapping: UnixSignal.gracefulStop)
        try await settings.withBackendThenExit { backend in
            let outcome = try await acquire(request, label: label, serviceID: serviceID, with: backend.semaphore) {
                for await _ in signals { return }
            }
            switch outcome {
            case .acquired:
                Output.write("acquired startup lease of \(serviceID) for \(label)\n")
                return .ok
            case .alreadyHeld:
                Output.write("\(serviceID) already holds the startup lease for \(label); renewed to \(request.leaseTimeout.operatorDescription)\n")
                return .ok
            case .timedOut:
                Output.error("startup lease for \(label) not acquired within --acquire-timeout \(request.acquireTimeout.operatorDescription); left the queue")
                return .negative
            case .interrupted:
                Output.error("interrupted while waiting for the startup lease for \(label); left the queue")
                return .negative
            }
        }
    }

    private func acquire(
        _ request: AcquireRequest, label: Label, serviceID: ServiceID, with semaphore: some StartupSemaphore,
        interrupted: @escaping @Sendable () async -> Void
    ) async throws -> AcquireOutcome {
        let lease = StartupLease(semaphore: semaphore, label: label, serviceID: serviceID, logger: Logger(label: "service-monitor.acquire-lease"))
        return try await lease.acquire(request, interrupted: interrupted)
    }
}

extension AcquireLeaseCommand: PlainlyParsableCommand {
    static let plainOptions = GlobalOptions.plainOptions + InstanceOptions.plainOptions + LeaseOptions.plainOptions

    static func parsed(from line: PlainCommandLine) throws(PlainCommandLine.NotPlain) -> Self {
        var parsed = Self()
        parsed.global = GlobalOptions.parsed(from: line)
        parsed.instance = try InstanceOptions.parsed(from: line)
        parsed.lease = try LeaseOptions.parsed(from: line)
        return parsed
    }
}
