public import ArgumentParser
import ServiceMonitor

/// `service-monitor`: the root command.
public struct ServiceMonitorCommand: AsyncParsableCommand {
    /// The root's name, which every subcommand also carries as its `_superCommandName`: parsed
    /// as a root of its own (``parse(_:)``), a subcommand then names itself in usage lines as
    /// it does under this root, `service-monitor hosts`.
    static let name = "service-monitor"

    public static let configuration = CommandConfiguration(
        commandName: name,
        abstract: "Monitor a clustered service, publish which instances are healthy, and start instances one at a time — with etcd v3 or AWS DynamoDB as the shared store.",
        version: ServiceMonitorVersion.current,
        subcommands: subcommands.map { $0 }
    )

    /// The subcommands, typed as what ``parse(_:)`` runs, so choosing one needs no dynamic cast
    /// (whose first check of a type scans every conformance record of the binary).
    static let subcommands: [any AsyncParsableCommand.Type] = [
        WatchCommand.self, HostsCommand.self, AcquireLeaseCommand.self, ReleaseLeaseCommand.self, RunCommand.self,
        StatusCommand.self, CreateTableCommand.self,
    ]

    /// The one-shot commands, run inside `ExecStart=` lines, that a plain command line builds
    /// directly (``plainCommand(_:)``).
    static let plainlyParsable: [any PlainlyParsableCommand.Type] = [
        HostsCommand.self, AcquireLeaseCommand.self, ReleaseLeaseCommand.self, StatusCommand.self,
    ]

    public init() {}
}

public enum ServiceMonitorVersion {
    public static let current = "0.1.0"
}

extension ServiceMonitorCommand {
    /// Parses `arguments` (without the program name) into the command to run, the cheapest way
    /// that comes to ArgumentParser's result.
    ///
    /// - A plain command line of a one-shot command is built without ArgumentParser
    ///   (``plainCommand(_:)``).
    /// - Before it parses, ArgumentParser checks every command line for a completion-script
    ///   request by parsing two pseudo-commands of its own; each first use of a type there scans
    ///   the binary's ~10 400 conformance records, which made that check two thirds of a
    ///   `--version` and a sixth of a `hosts` (12 M instructions). It skips the check for a root
    ///   command with a super-command name, which every subcommand has: so a command line that
    ///   names a subcommand first, and asks nothing ArgumentParser answers itself (help,
    ///   version, completions, dump-help), is parsed with that subcommand as the root: the same
    ///   definitions, values and error line (only ArgumentParser's closing hint, never printed,
    ///   reads "See 'hosts --help'").
    /// - Any other goes through this root.
    ///
    /// Synchronous: ArgumentParser's `asyncParseAsRoot` differs only in running asynchronous
    /// custom completions, which no option has, and would leave the main actor for Swift's
    /// global pool.
    static func parse(_ arguments: [String]) throws -> any ParsableCommand {
        if let command = plainCommand(arguments) {
            return command
        }
        if let subcommand = directSubcommand(arguments) {
            return try subcommand.parseAsRoot(Array(arguments.dropFirst()))
        }
        return try parseAsRoot(arguments)
    }

    /// The one-shot command a plain command line (``PlainCommandLine``) names first, built
    /// without ArgumentParser; `nil` for ArgumentParser to parse.
    static func plainCommand(_ arguments: [String]) -> (any PlainlyParsableCommand)? {
        guard let first = arguments.first,
              let command = plainlyParsable.first(where: { $0.configuration.commandName == first }),
              let line = PlainCommandLine(arguments.dropFirst(), options: command.plainOptions)
        else { return nil }
        return try? command.parsed(from: line)
    }

    /// The subcommand ``parse(_:)`` takes as the root for `arguments`, or `nil` for this root.
    static func directSubcommand(_ arguments: [String]) -> (any AsyncParsableCommand.Type)? {
        guard let first = arguments.first,
              let subcommand = subcommands.first(where: { $0.configuration.commandName == first }),
              subcommand.configuration._superCommandName == name
        else { return nil }
        // After `--` every argument is a value (run's COMMAND), never a flag.
        let options = arguments.dropFirst().prefix { $0 != "--" }
        return options.contains(where: mayAskArgumentParserItself) ? nil : subcommand
    }

    /// Whether `argument` could be one of ArgumentParser's own: `help`, `-h` (alone or among
    /// short flags), `--help`, `-help`, `--version`, `--generate-completion-script`,
    /// `---completion`, `--experimental-dump-help`. Errs towards yes: a value that merely looks
    /// like one only takes the root's (slower) way to the same result.
    static func mayAskArgumentParserItself(_ argument: String) -> Bool {
        if argument == "help" { return true }
        guard argument.hasPrefix("-") else { return false }
        // Short flags, clustered or not, and negative numbers: the subcommands define no short
        // names of their own, so these are ArgumentParser's or errors.
        guard argument.hasPrefix("--") else { return true }
        return ["help", "version", "completion", "dump"].contains { argument.firstRange(ofBytes: $0) != nil }
    }
}
