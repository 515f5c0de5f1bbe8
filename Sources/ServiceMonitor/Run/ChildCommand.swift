import Posix

/// `run`'s command line after `--`, validated before any store call: present, and its program
/// found (on `PATH` unless it names a path) and executable.
public struct ChildCommand: Sendable, Equatable {
    /// What replaces `{hosts}` in the arguments: the instances up, rendered.
    public static let hostsPlaceholder = "{hosts}"

    public let words: [String]

    public init(_ words: [String], environment: [String: String]) throws(BadInput) {
        guard let program = words.first, !program.isEmpty else {
            throw BadInput(option: "COMMAND", message: "missing: give the command to run after --")
        }
        guard Self.findExecutable(program, path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin") else {
            throw BadInput.badValue(
                .invalidValue, option: "COMMAND", value: program,
                program.contains("/") ? "not an executable file" : "no executable of that name on PATH"
            )
        }
        self.words = words
    }

    /// Whether an argument asks for the hosts in it.
    public var takesHosts: Bool {
        words.dropFirst().contains { $0.contains(Self.hostsPlaceholder) }
    }

    /// The command with every literal `{hosts}` in its arguments replaced by `hosts`.
    public func arguments(hosts: String) -> [String] {
        [words[0]] + words.dropFirst().map { $0.replacing(Self.hostsPlaceholder, with: hosts) }
    }

    /// As `execvp` looks: a name with a slash as it is, any other in each `PATH` directory.
    static func findExecutable(_ program: String, path: String) -> Bool {
        let candidates = program.contains("/") ? [program]
            : path.split(separator: ":", omittingEmptySubsequences: false).map { ($0.isEmpty ? "." : String($0)) + "/" + program }
        return candidates.contains(where: File.isExecutable(atPath:))
    }
}
