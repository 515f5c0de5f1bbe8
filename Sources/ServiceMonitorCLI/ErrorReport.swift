import ArgumentParser
import NIOCore
import NIOPosix
import Posix
import ServiceMonitor
import Systemd

#if canImport(Glibc)
import Glibc
#endif

/// Turns an error a command threw into its exit status and one line on standard error, through
/// ``ExitStatusConvertible`` alone: an error that does not conform is a bug, exit 70.
enum ErrorReport {
    static func exitStatus(for error: any Error) -> ExitStatus {
        (error as? any ExitStatusConvertible)?.exitStatus ?? .software
    }

    static func message(for error: any Error) -> String {
        let text = (error as? any ExitStatusConvertible)?.exitMessage ?? "internal error: \(String(reflecting: error))"
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    static func exit(with error: any Error) -> Never {
        Output.error(message(for: error))
        Glibc.exit(exitStatus(for: error).rawValue)
    }
}

extension ServiceMonitorCommand {
    /// Parses, runs, and exits with the documented status; every error is one line, not a page.
    ///
    /// Isolated to the main actor, as `main.swift`'s top-level code is: it parses on the main
    /// thread, and a one-shot command then runs none of its code on Swift's global pool.
    @MainActor
    public static func runAsMain(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Never {
        if arguments.first == SupervisedChild.launchMarker { becomeChild(arguments) }
        if arguments == ["--version"] {
            // ArgumentParser's answer, without building the root's tables first (two thirds of
            // its `--version`): start-up as a plain command line of `hosts` now has it.
            Output.write("\(ServiceMonitorVersion.current)\n")
            Glibc.exit(ExitStatus.ok.rawValue)
        }
        // What only start-up read need not count towards the peak resident set a command reaches
        // next, nor stay mapped for as long as `watch` runs.
        LoadedImage.releaseRelocationTable()
        let command: any ParsableCommand
        do {
            command = try parse(arguments)
        } catch {
            exitForParseError(error, arguments: arguments)
        }
        LoadedImage.releaseUnwindTablesWhenThreadEnds()
        let runsForMonths = runsForMonths(command)
        if runsForMonths {
            // They call libsystemd from their start on (the watchdog, sd_notify, the journal):
            // loaded here, on the main thread before it parks, what loading it read goes with
            // the start-up pages they give back first thing (`runThenExit`).
            SystemdLibrary.open()
        } else {
            // Every other command is one etcd connection: one event-loop thread serves it, and
            // starting one per core cost a one-shot `hosts` ~9% of its wall time. `watch` and
            // `run` run the health checks on NIO's singleton group too, so they keep one
            // event-loop thread per core.
            NIOSingletons.groupLoopCountSuggestion = 1
        }
        guard let asyncCommand = command as? any AsyncParsableCommand else {
            // ArgumentParser's own help and version commands.
            var command = command
            do {
                try command.run()
                Glibc.exit(ExitStatus.ok.rawValue)
            } catch {
                exit(after: error)
            }
        }
        await runAndExit(asyncCommand, onEventLoop: !runsForMonths)
    }

    /// `watch` and `run`, which run until stopped; every other command is one-shot.
    static func runsForMonths(_ command: any ParsableCommand) -> Bool {
        command is WatchCommand || command is RunCommand
    }

    /// Runs `command` and exits with its status. A one-shot command runs on the one event loop,
    /// which serves its connection, and exits there: no answer is handed between threads, and
    /// nothing wakes the main actor at the end (its thread is parked: one would be started to
    /// run it). With the parse on the main thread, a `hosts` of 50 takes 0.92x the wall time and
    /// 0.86x the CPU. `watch` and `run` run on Swift's global pool.
    nonisolated(nonsending) static func runAndExit(_ command: sending any AsyncParsableCommand, onEventLoop: Bool) async -> Never {
        guard onEventLoop else {
            await runThenExit(command)
        }
        let eventLoop = EventLoopTaskExecutor(NIOSingletons.posixEventLoopGroup.next())
        await withTaskExecutorPreference(eventLoop) {
            await runThenExit(command)
        }
    }

    /// Runs `command` where the task runs nonisolated code, and exits with its status from there.
    static func runThenExit(_ command: any AsyncParsableCommand) async -> Never {
        if runsForMonths(command) {
            // They run for months: what only parsing and starting this thread read of the
            // program and the libraries would stay mapped all along (the monitor gives back, in
            // turn, what its first check and its first registration read). A one-shot command
            // would only read back what it needs (libsystemd is loaded by now, in `runAsMain`).
            LoadedImage.releaseFileBackedPages()
        }
        var command = command
        do {
            try await command.run()
            Glibc.exit(ExitStatus.ok.rawValue)
        } catch {
            exit(after: error)
        }
    }

    /// Exits with the status of the error a command's run threw, and its one line.
    static func exit(after error: any Error) -> Never {
        if let error = error as? ExitCode {
            // A negative outcome the command has already reported.
            Glibc.exit(error.rawValue)
        }
        if exitCode(for: error) == .success {
            // `--help` parses as ArgumentParser's own help command, whose run() asks for the help.
            exit(withError: error)
        }
        ErrorReport.exit(with: error)
    }

    /// `run`'s child, started as `service-monitor __run-child PARENT -- COMMAND…`: bound to its
    /// parent, it becomes COMMAND (exit 127/126, as a shell, when that fails).
    static func becomeChild(_ arguments: [String]) -> Never {
        guard arguments.count > 3, let parent = pid_t(arguments[1]), arguments[2] == "--" else {
            Output.error("\(SupervisedChild.launchMarker) is service-monitor run's own: use service-monitor run -- COMMAND")
            Glibc.exit(ExitStatus.usage.rawValue)
        }
        let failure = ParentBoundExec.exec(Array(arguments.dropFirst(3)), parent: parent)
        Output.error("cannot run \(failure.reason)")
        Glibc.exit(failure.status)
    }

    /// ArgumentParser's own errors, the only ones that point at --help: help and --version print
    /// and exit 0; a parse error prints its first line only (the bad value), exit 64.
    static func exitForParseError(_ error: any Error, arguments: [String]) -> Never {
        if exitCode(for: error) == .success {
            exit(withError: error)
        }
        Output.error(parseErrorLine(error, arguments: arguments))
        Glibc.exit(ExitStatus.usage.rawValue)
    }

    /// The one line a parse error prints, after `service-monitor: `.
    static func parseErrorLine(_ error: any Error, arguments: [String]) -> String {
        var message = Substring(message(for: error).split(separator: "\n").first ?? "invalid arguments")
        if message.hasPrefix("Error: ") { message = message.dropFirst("Error: ".count) }
        return "\(message)\(optionLikeValueHint(message, arguments: arguments)) (see --help)"
    }

    /// ArgumentParser reads a value that starts with `-` as the next option (`--min -1`,
    /// `--label -x`) and then reports only a missing value; name the value and how to pass it.
    static func optionLikeValueHint(_ message: Substring, arguments: [String]) -> String {
        let lead = "Missing value for '"
        guard message.hasPrefix(lead), let option = message.dropFirst(lead.count).split(whereSeparator: { $0 == " " || $0 == "'" }).first,
              let index = arguments.lastIndex(of: String(option)), index + 1 < arguments.count,
              case let value = arguments[index + 1], value.hasPrefix("-") else { return "" }
        return ": \(value.debugDescription) is read as an option; if it is the value, write \(option)=\(value)"
    }
}
