import ArgumentParser
import Etcd
import NIOCore
import ServiceMonitor

#if canImport(Glibc)
import Glibc
#endif

/// Turns any error into the documented exit status and one line on standard error.
enum ErrorReport {
    static func exitStatus(for error: any Error) -> ExitStatus {
        switch error {
        case is BadInput:
            return .usage
        case let error as HealthCheckError:
            return error.isBadInput ? .usage : .configuration
        case is ConfigurationError:
            return .configuration
        case let error as EtcdError:
            switch error.code {
            case .permissionDenied, .authenticationFailed: return .permissionDenied
            case .invalidConfiguration, .tlsFailure: return .configuration
            default: return .unavailable
            }
        default:
            return .unavailable
        }
    }

    static func message(for error: any Error) -> String {
        let text: String
        switch error {
        case let error as EtcdError:
            text = "etcd: \(error.code): \(error.message)" + (error.endpoint.map { " (\($0))" } ?? "")
        default:
            text = "\(error)"
        }
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    static func exit(with error: any Error) -> Never {
        Output.error(message(for: error))
        Glibc.exit(exitStatus(for: error).rawValue)
    }
}

extension ServiceMonitorCommand {
    /// Parses, runs, and exits with the documented status; usage errors are one line, not a page.
    public static func runAsMain(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) async -> Never {
        do {
            var command = try await asyncParseAsRoot(arguments)
            // Every command but `watch` is one etcd connection: one event-loop thread serves
            // it, and starting one per core cost a one-shot `hosts` ~9% of its wall time.
            // (`watch` also runs the health checks on the singleton group; it keeps one per core.)
            if !(command is WatchCommand) { NIOSingletons.groupLoopCountSuggestion = 1 }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Glibc.exit(ExitStatus.ok.rawValue)
        } catch let error as ExitCode {
            Glibc.exit(error.rawValue)
        } catch let error as BadInput {
            ErrorReport.exit(with: error)
        } catch let error as HealthCheckError {
            ErrorReport.exit(with: error)
        } catch let error as ConfigurationError {
            ErrorReport.exit(with: error)
        } catch let error as EtcdError {
            ErrorReport.exit(with: error)
        } catch {
            // ArgumentParser's own errors: help and --version print and exit 0; a parse error
            // prints its first line only (the bad value), exit 64.
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            var message = Substring(message(for: error).split(separator: "\n").first ?? "invalid arguments")
            if message.hasPrefix("Error: ") { message = message.dropFirst("Error: ".count) }
            Output.error("\(message)\(optionLikeValueHint(message, arguments: arguments)) (see --help)")
            Glibc.exit(ExitStatus.usage.rawValue)
        }
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
