import ArgumentParser
import Logging
import ServiceMonitor
import Systemd

/// `service-monitor release-lease`: give back this service id's startup slot, if it holds one.
struct ReleaseLeaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release-lease",
        _superCommandName: ServiceMonitorCommand.name,
        abstract: "Release this service id's startup lease of the label; exits 0 whether or not it held one.",
        discussion: "Never touches another id's slot. Prints one line saying whether the id held the lease."
    )

    @OptionGroup var global: GlobalOptions

    @OptionGroup var instance: InstanceOptions

    func run() async throws {
        let settings = try Settings(global, environment: Environment.current)
        let (label, serviceID) = try instance.validated()

        // Under a unit the release is journaled with its MESSAGE_ID; on a terminal the line on
        // stdout says it all.
        settings.logTarget.bootstrap(identifier: "service-monitor", level: settings.logTarget.resolved() == .journal ? .info : .warning)
        try await settings.withBackendThenExit { backend in
            let held = try await release(label: label, serviceID: serviceID, with: backend.semaphore)
            Output.write(held ? "released startup lease of \(serviceID) for \(label)\n" : "\(serviceID) held no startup lease for \(label)\n")
            return .ok
        }
    }

    private func release(label: Label, serviceID: ServiceID, with semaphore: some StartupSemaphore) async throws -> Bool {
        try await StartupLease(semaphore: semaphore, label: label, serviceID: serviceID, logger: Logger(label: "service-monitor.release-lease"))
            .release()
    }
}

extension ReleaseLeaseCommand: PlainlyParsableCommand {
    static let plainOptions = GlobalOptions.plainOptions + InstanceOptions.plainOptions

    static func parsed(from line: PlainCommandLine) throws(PlainCommandLine.NotPlain) -> Self {
        var parsed = Self()
        parsed.global = GlobalOptions.parsed(from: line)
        parsed.instance = try InstanceOptions.parsed(from: line)
        return parsed
    }
}
