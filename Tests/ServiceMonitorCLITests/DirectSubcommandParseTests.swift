import ArgumentParser
@testable import ServiceMonitorCLI
import Testing
import TestSupport

/// `ServiceMonitorCommand.parse` takes a subcommand named first as the root, skipping
/// ArgumentParser's completion-script check (unless the line is plain: `PlainCommandLineTests`;
/// here the direct way is called itself). Whatever it parses, the root's own way must parse
/// the same: the same command with the same values, or the same error line and exit code.
/// (ArgumentParser's full text of an error also ends "See 'watch --help'" instead of "See
/// 'service-monitor watch --help'", a line the command line never prints.)
@Suite("parsing a subcommand as the root", .tags(.fast))
struct DirectSubcommandParseTests {
    /// Command lines of every subcommand, valid and not: values, defaults, env-style options,
    /// bad values, unknown and missing options, and run's COMMAND after `--`.
    static let commandLines: [[String]] = [
        ["hosts", "--label", "web"],
        ["hosts", "--label", "web", "--port", "8080", "--format", "json", "--min", "2"],
        ["hosts", "--label=web", "--endpoints", "http://10.0.0.1:2379, http://10.0.0.2:2379", "--watch"],
        ["hosts", "--label", "web", "--template", "{host}:{port}", "--wait", "5s"],
        ["hosts"],
        ["hosts", "--label"],
        ["hosts", "--label", "web", "--min", "two"],
        ["hosts", "--label", "web", "--bogus"],
        ["hosts", "--label", "web", "extra"],
        ["status"],
        ["status", "--label", "web", "--json"],
        ["status", "--json=yes"],
        ["watch", "--label", "web", "--service-id", "web-1", "--monitor-url", "http://127.0.0.1:8080/health", "--interval", "5s"],
        ["watch", "--label", "web"],
        ["acquire-lease", "--label", "web", "--service-id", "web-1", "--acquire-timeout", "10m", "--slots", "2"],
        ["acquire-lease", "--label", "web", "--service-id", "web-1", "--slots", "x"],
        ["release-lease", "--label", "web", "--service-id", "web-1"],
        ["run", "--label", "web", "--service-id", "web-1", "--", "/usr/bin/env", "--help", "-h"],
        ["run", "--label", "web", "--service-id", "web-1"],
        ["create-table", "--backend", "dynamodb", "--dynamodb-table", "t"],
    ]

    @Test(arguments: commandLines)
    func parsesAsTheRootDoes(_ arguments: [String]) async throws {
        // Help after `--` is run's COMMAND's own, not ArgumentParser's: that one is direct too.
        let subcommand = try #require(ServiceMonitorCommand.directSubcommand(arguments), "\(arguments) should take the direct way")
        let direct = await parseOutcome(arguments) { try subcommand.parseAsRoot(Array(arguments.dropFirst())) }
        let throughRoot = await parseOutcome(arguments) { try await ServiceMonitorCommand.asyncParseAsRoot(arguments) }
        #expect(direct == throughRoot)
    }

    @Test func everySubcommandCarriesTheRootsNameSoItsUsageLinesMatch() {
        for subcommand in ServiceMonitorCommand.configuration.subcommands {
            #expect(subcommand.configuration._superCommandName == ServiceMonitorCommand.name, "\(subcommand)")
            #expect(ServiceMonitorCommand.directSubcommand([subcommand._commandName]) != nil, "\(subcommand)")
        }
    }

    /// What ArgumentParser answers itself goes through the root, where it always has.
    @Test(arguments: [
        ["--version"], ["--help"], [], ["help", "hosts"], ["hosts", "--help"], ["hosts", "-h"],
        ["hosts", "-help"], ["hosts", "--label", "web", "--version"], ["watch", "--generate-completion-script", "bash"],
        ["hosts", "---completion", "--", "--label"], ["status", "--experimental-dump-help"], ["hosts", "help"],
        ["hots", "--label", "web"], ["hosts", "--min", "-1", "--label", "web"],
    ])
    func argumentParsersOwnRequestsGoThroughTheRoot(_ arguments: [String]) {
        #expect(ServiceMonitorCommand.directSubcommand(arguments) == nil)
    }
}
