import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the etcd test fixture, with a message meant for the test log.
public struct EtcdTestError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Temporary directories for etcd fixtures.
public enum EtcdTestPaths {
    /// Creates a fresh directory under the system temp directory.
    public static func makeTemporaryDirectory(prefix: String) throws -> String {
        let path = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Free loopback TCP ports.
public enum EtcdFreePorts {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var handedOut: Set<Int> = []

    /// `count` distinct ports the kernel reports free (bound to port 0 on 127.0.0.1, then
    /// closed); never the same port twice within this process, so parallel tests don't collide.
    public static func take(_ count: Int) throws -> [Int] {
        var ports: [Int] = []
        var attempts = 0
        while ports.count < count {
            attempts += 1
            guard attempts < 1000 else { throw EtcdTestError("could not find \(count) free ports") }
            let port = try self.probe()
            let isNew = self.lock.withLock { self.handedOut.insert(port).inserted }
            if isNew { ports.append(port) }
        }
        return ports
    }

    private static func probe() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw EtcdTestError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw EtcdTestError("bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw EtcdTestError("getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Runs helper programs (etcdctl, openssl) to completion without blocking the caller's thread:
/// tests run in parallel on Swift's small shared thread pool (two threads on a two-core
/// machine), and a blocking wait there would stall every gRPC client in the process.
public enum EtcdTestProcess {
    /// Runs `executable` and returns its stdout; throws with stderr when it exits non-zero.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        let result = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ProcessResult, any Error>) in
            let collector = ProcessResultCollector(continuation)
            process.terminationHandler = { collector.exited($0.terminationStatus) }
            do {
                try process.run()
            } catch {
                collector.failed(EtcdTestError("cannot run \(executable): \(error)"))
                return
            }
            // Blocking reads on dedicated threads, so a chatty program never fills a pipe.
            Thread { collector.stdout(output.fileHandleForReading.readDataToEndOfFile()) }.start()
            Thread { collector.stderr(errors.fileHandleForReading.readDataToEndOfFile()) }.start()
        }
        let stdoutText = String(decoding: result.stdout, as: UTF8.self)
        guard result.status == 0 else {
            let stderrText = String(decoding: result.stderr, as: UTF8.self)
            throw EtcdTestError("\(executable) \(arguments.joined(separator: " ")) exited \(result.status): \(stderrText)\(stdoutText)")
        }
        return stdoutText
    }
}

private struct ProcessResult: Sendable {
    var status: Int32
    var stdout: Data
    var stderr: Data
}

/// Resumes the continuation once the exit status and both outputs are in.
private final class ProcessResultCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<ProcessResult, any Error>?
    private var status: Int32?
    private var stdoutData: Data?
    private var stderrData: Data?

    init(_ continuation: CheckedContinuation<ProcessResult, any Error>) {
        self.continuation = continuation
    }

    func exited(_ status: Int32) { self.update { $0.status = status } }
    func stdout(_ data: Data) { self.update { $0.stdoutData = data } }
    func stderr(_ data: Data) { self.update { $0.stderrData = data } }

    func failed(_ error: any Error) {
        let continuation = self.lock.withLock { () -> CheckedContinuation<ProcessResult, any Error>? in
            defer { self.continuation = nil }
            return self.continuation
        }
        continuation?.resume(throwing: error)
    }

    private func update(_ change: (ProcessResultCollector) -> Void) {
        let ready = self.lock.withLock { () -> (CheckedContinuation<ProcessResult, any Error>, ProcessResult)? in
            change(self)
            guard let status = self.status, let out = self.stdoutData, let err = self.stderrData,
                let continuation = self.continuation
            else { return nil }
            self.continuation = nil
            return (continuation, ProcessResult(status: status, stdout: out, stderr: err))
        }
        if let (continuation, result) = ready { continuation.resume(returning: result) }
    }
}

/// Lets async code await a launched process's exit (set up before `run()`).
final class EtcdProcessExit: @unchecked Sendable {
    private let lock = NSLock()
    private var hasExited = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Installs itself as `process`'s termination handler.
    init(observing process: Process) {
        process.terminationHandler = { [self] _ in
            let waiters = self.lock.withLock { () -> [CheckedContinuation<Void, Never>] in
                self.hasExited = true
                defer { self.waiters = [] }
                return self.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    var exited: Bool { self.lock.withLock { self.hasExited } }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let alreadyExited = self.lock.withLock { () -> Bool in
                if self.hasExited { return true }
                self.waiters.append(continuation)
                return false
            }
            if alreadyExited { continuation.resume() }
        }
    }
}
