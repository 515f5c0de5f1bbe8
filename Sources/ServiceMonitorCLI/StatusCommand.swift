import ArgumentParser
import ServiceMonitor

/// `service-monitor status`: instances and startup leases, for people or machines.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        _superCommandName: ServiceMonitorCommand.name,
        abstract: "Show every label (or one): instances with state, host, since and detail; startup lease holders and queue."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only this label.")
    var label: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() async throws {
        let settings = try Settings(global, environment: Environment.current)
        let label = try label.map(Label.init)
        try await settings.withBackendThenExit { backend in
            let report = try await backend.status(of: label)
            Output.write(json ? try report.json() : report.table())
            return .ok
        }
    }
}

extension StatusCommand: PlainlyParsableCommand {
    static let plainOptions = GlobalOptions.plainOptions + PlainOptions(values: ["label"], flags: ["json"])

    static func parsed(from line: PlainCommandLine) -> Self {
        var parsed = Self()
        parsed.global = GlobalOptions.parsed(from: line)
        parsed.label = line.value("label")
        parsed.json = line.flag("json")
        return parsed
    }
}
