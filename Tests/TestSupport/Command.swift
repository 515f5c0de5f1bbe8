public import Foundation

#if canImport(Glibc)
import Glibc
#endif

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

/// Runs real programs for tests: the one way to start a process, wait for it with a bound, and
/// read what it printed. Nothing here blocks a thread of Swift's cooperative pool (two threads
/// on a two-core machine, shared by every test running in parallel): exits arrive through
/// Foundation's termination handler, and pipes are read on threads of their own.
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
    ) async throws -> CommandResult {
        let output = Pipe(), error = Pipe(), input = Pipe()
        // Pipe objects (not their file handles): Foundation then closes the child's ends here after
        // the launch, so the reads below see end-of-file once the child is gone.
        let child = try launch(
            executable, arguments, environment: environment,
            standardInput: standardInput == nil ? FileHandle.nullDevice : input,
            standardOutput: output, standardError: error
        )
        // Both pipes are drained while the process runs, so a chatty child never blocks on a full pipe.
        let outputReader = output.fileHandleForReading, errorReader = error.fileHandleForReading
        async let stdout = onOwnThread { readToEnd(outputReader) }
        async let stderr = onOwnThread { readToEnd(errorReader) }
        if let standardInput {
            let writer = input.fileHandleForWriting
            await onOwnThread {
                writer.write(Data(standardInput.utf8))
                try? writer.close()
            }
        }
        let status: Int32
        do {
            status = try await child.waitForExit(timeout: timeout)
        } catch {
            await child.kill()
            _ = await (stdout, stderr)
            throw CommandError(description: "\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        return CommandResult(status: status, standardOutput: String(decoding: await stdout, as: UTF8.self), standardError: String(decoding: await stderr, as: UTF8.self))
    }

    /// Runs `executable` to completion and returns its standard output; throws with what it
    /// printed when it exits non-zero.
    @discardableResult
    public static func output(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String?] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> String {
        let result = try await run(executable, arguments, environment: environment, timeout: timeout)
        guard result.status == 0 else {
            throw CommandError(description: "\(executable) \(arguments.joined(separator: " ")) exited \(result.status): \(result.standardError)\(result.standardOutput)")
        }
        return result.standardOutput
    }

    /// Starts `executable` in the background; the caller owns the returned process. Output the
    /// caller gives no file for is discarded.
    public static func start(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String?] = [:],
        standardOutput: FileHandle? = nil,
        standardError: FileHandle? = nil
    ) throws -> ChildProcess {
        try launch(
            executable, arguments, environment: environment, standardInput: FileHandle.nullDevice,
            standardOutput: standardOutput ?? FileHandle.nullDevice, standardError: standardError ?? FileHandle.nullDevice
        )
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

    /// `standardInput`, `standardOutput` and `standardError` are a `FileHandle` or a `Pipe`, as
    /// `Process` takes them.
    private static func launch(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String?],
        standardInput: Any,
        standardOutput: Any,
        standardError: Any
    ) throws -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try resolve(executable))
        process.arguments = arguments
        process.environment = merged(environment)
        process.standardInput = standardInput
        process.standardOutput = standardOutput
        process.standardError = standardError
        let child = ChildProcess(process, description: ([executable] + arguments).joined(separator: " "))
        do {
            // One launch at a time: Foundation's Process.run crashed (a bad pointer in its
            // memcpy) when tests running in parallel launched at the same moment.
            try launching.withLock { try process.run() }
        } catch {
            throw CommandError(description: "cannot run \(executable): \(error)")
        }
        return child
    }

    private static let launching = NSLock()

    /// Everything until end-of-file. Foundation's `readDataToEndOfFile()` traps when a signal
    /// interrupts its read (EINTR); this retries.
    private static func readToEnd(_ handle: FileHandle) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(handle.fileDescriptor, &buffer, buffer.count)
            if count > 0 {
                data.append(contentsOf: buffer[..<count])
            } else if count == 0 || errno != EINTR {
                return data
            }
        }
    }

    private static func merged(_ changes: [String: String?]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in changes { environment[name] = value }
        return environment
    }
}

/// A process started by ``Command``: signal it, ask whether it still runs, and await its exit
/// without holding a thread.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: `process` is only read after launch (its pid and status); the rest is locked.
    private let process: Process
    private let commandLine: String
    private let lock = NSLock()
    private var exitStatus: Int32?
    private var waiters: [UInt64: CheckedContinuation<Int32?, Never>] = [:]
    private var nextWaiter: UInt64 = 0

    fileprivate init(_ process: Process, description: String) {
        self.process = process
        self.commandLine = description
        // Installed before launch, so no exit is missed.
        process.terminationHandler = { [weak self] process in
            guard let self else { return }
            let status = process.terminationStatus
            let waiting = self.lock.withLock { () -> [CheckedContinuation<Int32?, Never>] in
                self.exitStatus = status
                defer { self.waiters = [:] }
                return Array(self.waiters.values)
            }
            for waiter in waiting { waiter.resume(returning: status) }
        }
    }

    public var processIdentifier: pid_t { process.processIdentifier }

    /// Whether it has not exited yet (as reported to its termination handler).
    public var isRunning: Bool { lock.withLock { exitStatus == nil } }

    /// The exit status (or the number of the signal that ended it); only once it has exited.
    public var terminationStatus: Int32 {
        guard let status = lock.withLock({ exitStatus }) else { preconditionFailure("\(commandLine) is still running") }
        return status
    }

    /// Sends `signal` unless the process has already exited.
    public func send(_ signal: Int32) {
        if isRunning { _ = Glibc.kill(process.processIdentifier, signal) }
    }

    /// SIGTERM, without waiting.
    public func terminate() {
        send(SIGTERM)
    }

    /// SIGKILL, then waits for the exit (short: nothing can delay it).
    public func kill() async {
        send(SIGKILL)
        _ = await waitForExit()
    }

    /// Waits for the exit and returns the status; nil when the task is cancelled first.
    @discardableResult
    public func waitForExit() async -> Int32? {
        let id = lock.withLock { () -> UInt64 in
            defer { nextWaiter += 1 }
            return nextWaiter
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
                let ready = lock.withLock { () -> Int32?? in
                    if let exitStatus { return .some(exitStatus) }
                    if Task.isCancelled { return .some(nil) }
                    waiters[id] = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            lock.withLock { waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }

    /// Waits (bounded) for the exit and returns the status; throws naming `what` on timeout.
    @discardableResult
    public func waitForExit(timeout: Duration, _ what: @autoclosure () -> String = "") async throws -> Int32 {
        let what = what()
        let description = what.isEmpty ? "\(commandLine) to exit" : what
        return try await withTimeout(timeout, description) {
            guard let status = await self.waitForExit() else { throw CancellationError() }
            return status
        }
    }
}

/// Runs `body`, failing with a clear error if it takes longer than `timeout` (then `body` is
/// cancelled).
public func withTimeout<Result: Sendable>(
    _ timeout: Duration,
    _ what: String = "operation",
    _ body: @escaping @Sendable () async throws -> Result
) async throws -> Result {
    try await withThrowingTaskGroup(of: Result?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let result = first else {
            throw CommandError(description: "timed out after \(timeout) waiting for \(what)")
        }
        return result
    }
}

/// Runs blocking work (a read to the end of a pipe) on a thread of its own, so the cooperative
/// pool keeps serving everything else meanwhile.
public func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: body()) }
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
