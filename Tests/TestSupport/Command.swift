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
        let output = try Pipes(), errors = try Pipes(), input = standardInput == nil ? nil : try Pipes()
        let child: ChildProcess
        do {
            child = try launch(
                executable, arguments, environment: environment,
                standardInput: input?.reading ?? nullDevice.fileDescriptor,
                standardOutput: output.writing, standardError: errors.writing
            )
        } catch {
            for pipe in [output, errors] + (input.map { [$0] } ?? []) { pipe.closeBoth() }
            throw error
        }
        // The child has its copies now: closing ours makes the reads below end with the child.
        output.closeWriting()
        errors.closeWriting()
        input?.closeReading()
        // Both pipes are drained while the process runs, so a chatty child never blocks on a full pipe.
        let outputReader = output.reading, errorReader = errors.reading
        async let stdout = onOwnThread { readToEnd(outputReader) }
        async let stderr = onOwnThread { readToEnd(errorReader) }
        if let standardInput, let writer = input?.writing {
            await onOwnThread {
                writeAll(Array(standardInput.utf8), to: writer)
                close(writer)
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
            executable, arguments, environment: environment, standardInput: nullDevice.fileDescriptor,
            standardOutput: (standardOutput ?? nullDevice).fileDescriptor, standardError: (standardError ?? nullDevice).fileDescriptor
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

    /// Spawns `executable` with the given descriptors as its 0, 1 and 2 (posix_spawn: Foundation's
    /// Process.run crashed in a memcpy when tests running in parallel launched many processes).
    private static func launch(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String?],
        standardInput: Int32,
        standardOutput: Int32,
        standardError: Int32
    ) throws -> ChildProcess {
        let path = try resolve(executable)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (descriptor, target) in [(standardInput, Int32(0)), (standardOutput, 1), (standardError, 2)] {
            posix_spawn_file_actions_adddup2(&actions, descriptor, target)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with no blocked signals and default dispositions (this process ignores
        // SIGPIPE, for one).
        var noSignals = sigset_t(), allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = merged(environment).map { strdup("\($0)=\($1)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let failure = Pipes.creatingOrSpawning.withLock { posix_spawn(&pid, path, &actions, &attributes, argv, envp) }
        guard failure == 0 else {
            throw CommandError(description: "cannot run \(executable): \(String(cString: strerror(failure)))")
        }
        return ChildProcess(pid: pid, description: ([executable] + arguments).joined(separator: " "))
    }

    private static let nullDevice = FileHandle(forUpdatingAtPath: "/dev/null")!

    /// Everything until end-of-file, then closes `descriptor` (retrying reads a signal interrupts).
    private static func readToEnd(_ descriptor: Int32) -> Data {
        defer { close(descriptor) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(descriptor, &buffer, buffer.count)
            if count > 0 {
                data.append(contentsOf: buffer[..<count])
            } else if count == 0 || errno != EINTR {
                return data
            }
        }
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32) {
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count > 0 { written += count } else if errno != EINTR { return }
        }
    }

    private static func merged(_ changes: [String: String?]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in changes { environment[name] = value }
        return environment
    }
}

/// A pipe as two raw descriptors, both close-on-exec: a child gets its end through dup2 only, so
/// no other child holds a write end open and delays end-of-file.
private struct Pipes {
    let reading: Int32
    let writing: Int32

    /// Held from pipe() to close-on-exec, and around each spawn, so no child inherits a pipe
    /// made for another (Glibc's module has no pipe2).
    static let creatingOrSpawning = NSLock()

    init() throws {
        var descriptors: [Int32] = [0, 0]
        let made = Self.creatingOrSpawning.withLock { () -> Bool in
            guard pipe(&descriptors) == 0 else { return false }
            for descriptor in descriptors { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
            return true
        }
        guard made else { throw CommandError(description: "pipe() failed: errno \(errno)") }
        reading = descriptors[0]
        writing = descriptors[1]
    }

    func closeReading() { close(reading) }
    func closeWriting() { close(writing) }
    func closeBoth() { closeReading(); closeWriting() }
}

/// A process started by ``Command``: signal it, ask whether it still runs, and await its exit
/// without holding a thread of the cooperative pool.
public final class ChildProcess: @unchecked Sendable {
    // @unchecked: everything mutable is behind `lock`.
    public let processIdentifier: pid_t
    private let commandLine: String
    private let lock = NSLock()
    private var exitStatus: Int32?
    private var waiters: [UInt64: CheckedContinuation<Int32?, Never>] = [:]
    private var nextWaiter: UInt64 = 0

    fileprivate init(pid: pid_t, description: String) {
        self.processIdentifier = pid
        self.commandLine = description
        // A thread of its own waits for (and reaps) the child.
        Thread.detachNewThread { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            // The exit code, or the number of the signal that ended it (as Foundation reports it).
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
            let waiting = lock.withLock { () -> [CheckedContinuation<Int32?, Never>] in
                exitStatus = code
                defer { waiters = [:] }
                return Array(waiters.values)
            }
            for waiter in waiting { waiter.resume(returning: code) }
        }
    }

    /// Whether it has not exited yet (as reported to its termination handler).
    public var isRunning: Bool { lock.withLock { exitStatus == nil } }

    /// The exit status (or the number of the signal that ended it); only once it has exited.
    public var terminationStatus: Int32 {
        guard let status = lock.withLock({ exitStatus }) else { preconditionFailure("\(commandLine) is still running") }
        return status
    }

    /// Sends `signal` unless the process has already exited.
    public func send(_ signal: Int32) {
        if isRunning { _ = Glibc.kill(processIdentifier, signal) }
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
