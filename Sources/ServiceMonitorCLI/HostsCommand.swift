import ArgumentParser
import Posix
import Racing
import ServiceMonitor
import UnixSignals

/// `service-monitor hosts`: the instances of a label that are up.
struct HostsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hosts",
        _superCommandName: ServiceMonitorCommand.name,
        abstract: "Print the hosts of a label that are up, oldest registration first.",
        discussion: """
        Prints nothing and exits 0 when no instance is up (csv and lines; json prints []). \
        With --min, exits 1 (printing nothing) when fewer are up; add --wait to block until \
        enough are. --watch prints the list again on every change (an empty line when none is up).
        """
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Service label (case-insensitive).")
    var label: String

    @OptionGroup var rendering: HostFormatOptions

    @Option(help: "Exit 1 unless at least this many instances are up.")
    var min: Int?

    @Option(help: ArgumentHelp("Block until --min (default 1) instances are up, at most this long.", valueName: "duration"))
    var wait: String?

    @Flag(help: "Print the list again on every change, until interrupted.")
    var watch = false

    func run() async throws {
        let settings = try Settings(global, environment: Environment.current)
        let label = try Label(label)
        let hostFormat = try rendering.hostFormat()
        if let min, min < 1 {
            throw BadInput(option: "--min", message: "\(min): must be at least 1")
        }
        let waitLimit = try wait.map { try Duration(parsingPositive: $0, option: "--wait") }
        if watch, min != nil || waitLimit != nil {
            throw BadInput(option: "--watch", message: "cannot be combined with --min or --wait")
        }

        try await settings.withBackendThenExit { backend in
            try await hosts(with: backend, label: label, format: hostFormat, waitLimit: waitLimit)
        }
    }

    private func hosts(
        with backend: some StoreBackend, label: Label, format hostFormat: HostFormat, waitLimit: Duration?
    ) async throws -> ExitStatus {
        let discovery = Discovery(registry: backend.registry, label: label)
        if watch {
            try await follow(discovery, format: hostFormat)
            return ExitStatus.ok
        }
        if let waitLimit {
            return try await waitForEnough(discovery, count: min ?? 1, within: waitLimit, format: hostFormat, label: label)
        }
        let up = try await discovery.current(keeping: hostFormat.fieldsRead)
        if let min, up.count < min {
            Output.error("\(up.count) of at least \(min) instances of \(label) are up")
            return ExitStatus.negative
        }
        Output.write(try hostFormat.render(up))
        return ExitStatus.ok
    }

    /// Blocks, driven by the watch, until `count` are up or `limit` passes.
    private func waitForEnough<Registry: InstanceRegistry>(
        _ discovery: Discovery<Registry>, count: Int, within limit: Duration, format: HostFormat, label: Label
    ) async throws -> ExitStatus {
        let outcome = try await withTimeLimit(limit) {
            let found = Found()
            try await discovery.follow { up in
                guard up.count >= count else { return true }
                found.text = try format.render(up)
                return false
            }
            return found.text
        }
        guard case .finished(let rendered?) = outcome else {
            Output.error("fewer than \(count) instances of \(label) were up within \(limit.operatorDescription)")
            return .negative
        }
        Output.write(rendered)
        return .ok
    }

    /// Prints now and on every change of what would be printed, until SIGINT/SIGTERM/SIGHUP.
    private func follow<Registry: InstanceRegistry>(_ discovery: Discovery<Registry>, format: HostFormat) async throws {
        // Trapped before the first print, so a signal once output has begun always ends it with 0.
        let signals = await UnixSignalsSequence(trapping: UnixSignal.gracefulStop)
        // Whichever ends first ends both: the watch (an error) or a signal.
        _ = try await race(
            {
                let last = Found()
                try await discovery.follow { up in
                    // An empty list is printed as an empty line, so the change is visible.
                    let text = up.isEmpty && format.layout != .json ? "\n" : try format.render(up)
                    if text != last.text {
                        last.text = text
                        Output.write(text)
                    }
                    return true
                }
                return ()
            },
            {
                for await _ in signals { return () }
                return ()
            }
        )
    }
}

/// Text one watch callback hands to the code after it; callbacks run one at a time.
private final class Found: @unchecked Sendable {
    var text: String?
}

/// Unbuffered writes to stdout and stderr: each call is one `write(2)`, so `--watch` output
/// reaches a pipe at once and lines never interleave.
enum Output {
    static func write(_ text: String) {
        write(text, to: .standardOutput)
    }

    static func error(_ message: String) {
        write("service-monitor: \(message)\n", to: .standardError)
    }

    private static func write(_ text: String, to descriptor: FileDescriptor) {
        // A closed stdout (`hosts | head`) has nobody left to tell.
        try? descriptor.write(text)
    }
}

extension HostsCommand: PlainlyParsableCommand {
    static let plainOptions = GlobalOptions.plainOptions + HostFormatOptions.plainOptions
        + PlainOptions(values: ["label", "min", "wait"], flags: ["watch"])

    static func parsed(from line: PlainCommandLine) throws(PlainCommandLine.NotPlain) -> Self {
        var parsed = Self()
        parsed.global = GlobalOptions.parsed(from: line)
        parsed.label = try line.required("label")
        parsed.rendering = try HostFormatOptions.parsed(from: line)
        parsed.min = try line.integer("min")
        parsed.wait = line.value("wait")
        parsed.watch = line.flag("watch")
        return parsed
    }
}
