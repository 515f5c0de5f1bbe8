import ArgumentParser
@testable import ServiceMonitorCLI

/// What parsing `arguments` came to, as the command line shows it: the command's type and
/// values, or the exit code and the one line a parse error prints.
func parseOutcome(_ arguments: [String], _ parse: () async throws -> any ParsableCommand) async -> String {
    do {
        let command = try await parse()
        return "parsed \(type(of: command)): \(String(reflecting: command))"
    } catch {
        let status = ServiceMonitorCommand.exitCode(for: error).rawValue
        return "exit \(status): \(ServiceMonitorCommand.parseErrorLine(error, arguments: arguments))"
    }
}
