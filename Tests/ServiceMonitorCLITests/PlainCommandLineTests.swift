import ArgumentParser
import Foundation
@testable import ServiceMonitorCLI
import Testing
import TestSupport

/// A plain command line of a one-shot command is built without ArgumentParser
/// (`ServiceMonitorCommand.plainCommand`). Whatever it builds, ArgumentParser must parse the
/// same: the same command with the same values. Every other line is left to ArgumentParser.
@Suite("building a plain command line without ArgumentParser", .tags(.fast))
struct PlainCommandLineTests {
    static let commands = ServiceMonitorCommand.plainlyParsable.map { $0._commandName }

    /// Fails unless ArgumentParser's root parses `arguments` into `plain`, the same values.
    static func expectArgumentParserParses(
        _ arguments: [String], as plain: any ParsableCommand, sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        let direct = await parseOutcome(arguments) { plain }
        let throughRoot = await parseOutcome(arguments) { try await ServiceMonitorCommand.asyncParseAsRoot(arguments) }
        #expect(direct == throughRoot, "\(arguments)", sourceLocation: sourceLocation)
    }

    /// The command lines of the docs, the units and the bench, and each option's other spelling.
    static let everydayLines: [[String]] = [
        ["hosts", "--label", "elasticsearch"],
        ["hosts", "--label", "elasticsearch", "--port", "9300"],
        ["hosts", "--label", "elasticsearch", "--template", "{host_port}:{transport_port}", "--format", "lines"],
        ["hosts", "--label", "elasticsearch", "--format", "json"],
        ["hosts", "--label", "elasticsearch", "--min", "2", "--wait", "2m"],
        ["hosts", "--label", "elasticsearch", "--watch"],
        ["hosts", "--label", "d50", "--endpoints", "http://127.0.0.1:2379"],
        ["hosts", "--endpoints=http://10.0.0.1:2379, http://10.0.0.2:2379", "--label=web", "--min=+3"],
        ["status"],
        ["status", "--label", "web", "--json"],
        ["acquire-lease", "--label=galera", "--service-id=galera-1", "--lease-timeout=600s", "--acquire-timeout=3600s"],
        ["acquire-lease", "--label", "elasticsearch", "--service-id", "es-2", "--slots", "2", "--backend", "dynamodb"],
        ["release-lease", "--label", "elasticsearch", "--service-id", "es-2"],
        ["release-lease", "--service-id=es-2", "--label=elasticsearch", "--prefix", "/other", "--user", "root:x=y"],
    ]

    @Test(arguments: everydayLines)
    func everydayLinesAreBuiltAsArgumentParserParsesThem(_ arguments: [String]) async throws {
        let plain = try #require(ServiceMonitorCommand.plainCommand(arguments), "\(arguments) should be plain")
        await Self.expectArgumentParserParses(arguments, as: plain)
    }

    /// Each command's plain options are exactly the options and flags ArgumentParser defines for
    /// it (less its own --help and --version): none is missed, none taken that it would refuse.
    @Test(arguments: commands)
    func plainOptionsAreTheOptionsArgumentParserDefines(_ name: String) throws {
        let command = try PlainCommand(name)
        #expect(Set(command.type.plainOptions.values) == command.defined.values)
        #expect(Set(command.type.plainOptions.flags) == command.defined.flags)
        #expect(Set(command.type.plainOptions.values).count == command.type.plainOptions.values.count, "a name listed twice")
    }

    /// Every option at once, each with a value of its own, then each alone: a value read into
    /// the wrong property, or a default that differs from ArgumentParser's, shows.
    @Test(arguments: commands)
    func everyOptionLandsWhereArgumentParserPutsIt(_ name: String) async throws {
        let command = try PlainCommand(name)
        let options = command.defined.values.sorted()
        // Numbers, so that they are valid for the Int options too.
        let all = [command.name] + options.enumerated().flatMap { ["--\($1)", "\($0 + 2)"] } + command.defined.flags.sorted().map { "--\($0)" }
        var lines = [all]
        for option in options {
            lines.append([command.name] + command.required(except: option) + ["--\(option)", "7"])
        }
        lines.append([command.name] + command.required(except: nil))
        for arguments in lines {
            let plain = try #require(ServiceMonitorCommand.plainCommand(arguments), "\(arguments) should be plain")
            await Self.expectArgumentParserParses(arguments, as: plain)
        }
    }

    /// Every line of up to three arguments from a small alphabet: whatever is built directly, the
    /// root parses the same way; the rest is left to it. Enough lines are built to show it.
    @Test(arguments: commands)
    func everyLineBuiltDirectlyIsWhatArgumentParserParses(_ name: String) async throws {
        let command = try PlainCommand(name)
        let value = "label"
        let other = try #require(command.defined.values.sorted().first { $0 != value && !command.needed.contains($0) })
        let number = ["min", "slots", "port"].first { command.defined.values.contains($0) } ?? "port"
        let flag = command.defined.flags.first ?? "json"
        let alphabet = [
            "--\(value)", "web", "--\(value)=db", "--\(value)=", "--\(other)", "--\(other)=v", "--\(number)", "--\(number)=2",
            "2", "two", "-x", "--\(flag)", "--\(flag)=true", "--", "--bogus", "", "--help",
        ]
        var lines: [[String]] = [[]]
        var frontier: [[String]] = [[]]
        for _ in 1...3 {
            frontier = frontier.flatMap { line in alphabet.map { line + [$0] } }
            lines += frontier
        }
        var built = 0
        for tail in lines {
            let arguments = [command.name] + command.required(except: value) + tail
            guard let plain = ServiceMonitorCommand.plainCommand(arguments) else { continue }
            built += 1
            await Self.expectArgumentParserParses(arguments, as: plain)
        }
        #expect(built > 15, "too few lines were plain to prove anything")
    }

    /// `runAsMain` answers a lone `--version` itself, as ArgumentParser's root does: the version
    /// on standard output, exit 0.
    @Test func aLoneVersionFlagIsAnsweredAsArgumentParserAnswersIt() throws {
        let answer = try #require(throws: (any Error).self) { try ServiceMonitorCommand.parseAsRoot(["--version"]) }
        #expect(ServiceMonitorCommand.exitCode(for: answer) == .success)
        #expect(ServiceMonitorCommand.fullMessage(for: answer) == ServiceMonitorVersion.current)
    }

    /// What ArgumentParser must judge: help, errors, and spellings that are not plain.
    @Test(arguments: [
        ["hosts"], ["hosts", "--label"], ["hosts", "--label", "-x"], ["hosts", "--label", ""], ["hosts", "--label="],
        ["hosts", "--label", "web", "--label", "db"], ["hosts", "--label", "web", "--min", "two"],
        ["hosts", "--label", "web", "--min", "-1"], ["hosts", "--label", "web", "--help"], ["hosts", "--label", "web", "-h"],
        ["hosts", "--label", "web", "--version"], ["hosts", "--label", "web", "extra"], ["hosts", "--label", "web", "--"],
        ["hosts", "--label", "web", "--watch=true"], ["hosts", "--label", "web", "--bogus"], ["hosts", "--Label", "web"],
        ["hosts", "-label", "web"], ["hosts", "--label", "web", "--generate-completion-script", "bash"],
        ["status", "--json", "--json"], ["status", "help"], ["acquire-lease", "--label", "web"],
        ["acquire-lease", "--label", "web", "--service-id", "w-1", "--slots", "1.5"],
        ["watch", "--label", "web", "--service-id", "web-1", "--monitor-url", "http://127.0.0.1:8080/health"],
        ["run", "--label", "web", "--service-id", "web-1", "--", "/bin/true"], ["create-table"], ["help", "hosts"],
        ["--version"], [],
    ])
    func otherLinesAreLeftToArgumentParser(_ arguments: [String]) {
        #expect(ServiceMonitorCommand.plainCommand(arguments) == nil)
    }
}

/// A plainly parsable command and what ArgumentParser defines for it.
struct PlainCommand {
    let type: any PlainlyParsableCommand.Type
    /// The options (each with a value) and flags ArgumentParser defines, less its own --help
    /// and --version, as its `--experimental-dump-help` lists them.
    let defined: (values: Set<String>, flags: Set<String>)
    /// Those of the options the command needs.
    let needed: [String]

    var name: String { type._commandName }

    init(_ name: String) throws {
        type = try #require(ServiceMonitorCommand.plainlyParsable.first { $0._commandName == name })
        struct Dump: Decodable {
            struct Command: Decodable { var arguments: [Argument] }
            struct Argument: Decodable {
                struct Name: Decodable { var kind: String; var name: String }
                var kind: String
                var names: [Name]?
                var isOptional: Bool
            }
            var command: Command
        }
        let dump = try JSONDecoder().decode(Dump.self, from: Data(type._dumpHelp().utf8))
        var defined: (values: Set<String>, flags: Set<String>) = ([], [])
        var needed: [String] = []
        for argument in dump.command.arguments {
            let long = try #require(argument.names?.first { $0.kind == "long" }?.name, "\(name): an argument without a long name")
            guard long != "help", long != "version" else { continue }
            if argument.kind == "flag" { defined.flags.insert(long) } else { defined.values.insert(long) }
            if !argument.isOptional { needed.append(long) }
        }
        self.defined = defined
        self.needed = needed
    }

    /// The arguments that give every option the command needs, but `option`, a value.
    func required(except option: String?) -> [String] {
        needed.filter { $0 != option }.flatMap { ["--\($0)", "w-\($0)"] }
    }
}
