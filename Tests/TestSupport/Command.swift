public import Foundation

/// The outcome of a finished process.
public struct CommandResult: Sendable, CustomStringConvertible {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String

    public init(status: Int32, standardOutput: String, standardError: String) {
        self.status = status
        self.standardOutput = standardOutput
        self.standardError = standardError
    }

    public var description: String {
        "exit \(status); stdout: \(standardOutput.debugDescription); stderr: \(standardError.debugDescription)"
    }
}

public struct CommandError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) {
        self.description = description
    }
}

/// Runs real programs for tests: one way to start a process, wait for it with a bound, and read
/// what it printed.
public enum Command {
    /// Runs `executable` (a path, or a name looked up in `PATH`) to completion, killing it when it
    /// outlives `timeout`. `environment` entries are added to (or, with `nil`, removed from) this
    /// process's environment.
    @discardableResult
    public static func run(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String?] = [:],
        standardInput: String? = nil,
        timeout: Duration = .seconds(60)
    ) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try resolve(executable))
        process.arguments = arguments
        process.environment = merged(environment)
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        let input = Pipe()
        process.standardInput = standardInput == nil ? FileHandle.nullDevice : input
        try process.run()
        if let standardInput {
            input.fileHandleForWriting.write(Data(standardInput.utf8))
            try input.fileHandleForWriting.close()
        }
        // Drain both pipes while the process runs so a chatty child cannot block on a full pipe.
        let collected = CollectedOutput(output: output, error: error)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                process.terminate()
                process.waitUntilExit()
                throw CommandError(description: "\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
            }
            usleep(2_000)
        }
        process.waitUntilExit()
        let (stdout, stderr) = collected.finish()
        return CommandResult(status: process.terminationStatus, standardOutput: stdout, standardError: stderr)
    }

    /// Starts `executable` in the background; the caller owns the returned process.
    public static func start(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String?] = [:],
        standardOutput: FileHandle? = nil,
        standardError: FileHandle? = nil
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try resolve(executable))
        process.arguments = arguments
        process.environment = merged(environment)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = standardOutput ?? FileHandle.nullDevice
        process.standardError = standardError ?? FileHandle.nullDevice
        try process.run()
        return process
    }

    /// The absolute path of `executable`, searching `PATH` for a bare name.
    public static func resolve(_ executable: String) throws -> String {
        if executable.contains("/") { return executable }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(executable)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw CommandError(description: "\(executable) is not installed (not found in PATH); ./dev test installs what the tests need")
    }

    private static func merged(_ changes: [String: String?]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in changes { environment[name] = value }
        return environment
    }
}

/// Reads a process's stdout and stderr to the end on background threads.
private final class CollectedOutput: @unchecked Sendable {
    private let group = DispatchGroup()
    private var output = Data(), error = Data()

    init(output: Pipe, error: Pipe) {
        group.enter()
        DispatchQueue.global().async {
            self.output = output.fileHandleForReading.readDataToEndOfFile()
            self.group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            self.error = error.fileHandleForReading.readDataToEndOfFile()
            self.group.leave()
        }
    }

    func finish() -> (String, String) {
        group.wait()
        return (String(decoding: output, as: UTF8.self), String(decoding: error, as: UTF8.self))
    }
}

/// Products built alongside the test bundle (executable targets the tests depend on).
public enum BuildProducts {
    /// The directory holding the test bundle and the package's executables.
    public static var directory: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }

    public static func executable(named name: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw CommandError(description: "\(name) was not built next to the tests (looked in \(directory.path))")
        }
        return path
    }
}

/// Waits for `condition` by re-checking it every `every` until `timeout`; for state that has no
/// push notification (a unit's state in the service manager, an entry reaching the journal).
public func eventually<T>(
    timeout: Duration = .seconds(20),
    every interval: Duration = .milliseconds(100),
    _ what: @autoclosure () -> String,
    _ condition: () throws -> T?
) throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try condition() { return value }
        guard ContinuousClock.now < deadline else {
            throw CommandError(description: "timed out after \(timeout) waiting for \(what())")
        }
        Thread.sleep(forTimeInterval: Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18)
    }
}
