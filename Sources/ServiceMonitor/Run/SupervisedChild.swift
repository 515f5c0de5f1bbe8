public import Logging
public import ServiceLifecycle
import Subprocess
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// `run`'s command, as a child of this process with its standard input, output and error.
///
/// It is started through this executable (``launchMarker``), which binds it to this process
/// (`Posix.ParentBoundExec`: SIGKILL when this process ends, however it ends, and clean signals) and
/// then becomes the command. It runs in a process group of its own, so a terminal's Ctrl-C
/// reaches it only as forwarded here — after the monitor has deregistered — and without this
/// process's `NOTIFY_SOCKET` and watchdog variables.
///
/// On graceful shutdown (which the service group gives it after the monitor's, so the record is
/// already gone) it forwards the signal that asked this process to stop, or SIGTERM, and after
/// `stopTimeout` sends SIGKILL. It returns when the command has exited, recording its status.
public struct SupervisedChild: Service {
    /// The first argument that makes `service-monitor` bind itself to its parent and exec the rest.
    public static let launchMarker = "__run-child"

    public let command: [String]
    /// `SERVICE_MONITOR_HOSTS` in its environment.
    public let hosts: String
    public let stopTimeout: Duration
    public let stopRequest: StopRequest
    public let exit: ChildExit
    public var logger: Logger

    public init(command: [String], hosts: String, stopTimeout: Duration, stopRequest: StopRequest, exit: ChildExit, logger: Logger) {
        self.command = command
        self.hosts = hosts
        self.stopTimeout = stopTimeout
        self.stopRequest = stopRequest
        self.exit = exit
        self.logger = logger
    }

    /// The arguments this executable is started with to become `command`, bound to `parent`.
    static func launchArguments(for command: [String], parent: Int32) -> [String] {
        [launchMarker, "\(parent)", "--"] + command
    }

    public func run() async throws {
        var options = PlatformOptions()
        // setpgid(0, 0) in the child: signals from a terminal go to this process only.
        options.processGroupID = 0
        let configuration = Configuration(
            executable: .path(FilePath("/proc/self/exe")),
            arguments: Arguments(executablePathOverride: "service-monitor", remainingValues: Self.launchArguments(for: command, parent: getpid())),
            // The unit's notify socket and watchdog are this process's (NotifyAccess=main): a
            // command that speaks sd_notify itself would only draw warnings from systemd.
            environment: .inherit.updating([
                "SERVICE_MONITOR_HOSTS": hosts, "NOTIFY_SOCKET": nil, "WATCHDOG_USEC": nil, "WATCHDOG_PID": nil,
            ]),
            platformOptions: options
        )
        let signals = ChildSignals()
        let status: Int32? = try await withThrowingTaskGroup(of: Int32?.self) { group in
            group.addTask {
                let result = try await Subprocess.run(
                    configuration, input: .currentStandardInput, output: .currentStandardOutput, error: .currentStandardError
                ) { execution in
                    logger.info("started \(command[0]) as process \(execution.processIdentifier.value)")
                    signals.attach { signal in try? execution.send(signal: Signal(rawValue: signal)) }
                }
                signals.detach()
                return Self.exitStatus(result.terminationStatus)
            }
            group.addTask {
                do { try await gracefulShutdown() } catch { return nil }
                let signal = stopRequest.signal ?? SIGTERM
                logger.notice("stopping \(command[0]): forwarding \(Self.name(of: signal)); SIGKILL after --stop-timeout \(stopTimeout.operatorDescription)")
                signals.send(signal)
                do { try await Task.sleep(for: stopTimeout) } catch { return nil }
                logger.warning("\(command[0]) did not stop within --stop-timeout \(stopTimeout.operatorDescription); sending SIGKILL")
                signals.send(SIGKILL)
                return nil
            }
            while let next = try await group.next() {
                if let next {
                    group.cancelAll()
                    return next
                }
            }
            return nil
        }
        guard let status else { return }
        exit.record(status)
        if status == 0 {
            logger.notice("\(command[0]) exited with status 0")
        } else {
            logger.warning("\(command[0]) exited with status \(status)\(status > 128 ? " (signal \(status - 128))" : "")")
        }
    }

    static func name(of signal: Int32) -> String {
        switch signal {
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGHUP: "SIGHUP"
        default: "signal \(signal)"
        }
    }

    /// The status a shell would give: the exit code, or 128 + the signal.
    static func exitStatus(_ status: TerminationStatus) -> Int32 {
        switch status {
        case .exited(let code): code
        case .signaled(let signal): 128 + signal
        }
    }
}

/// Sends signals to the running child only: none before it started, none once it is reaped.
private final class ChildSignals: Sendable {
    private let sender = Mutex<(@Sendable (Int32) -> Void)?>(nil)

    func attach(_ send: @escaping @Sendable (Int32) -> Void) {
        sender.withLock { $0 = send }
    }

    func detach() {
        sender.withLock { $0 = nil }
    }

    func send(_ signal: Int32) {
        sender.withLock { $0?(signal) }
    }
}

/// The signal (SIGTERM, SIGINT or SIGHUP) that asked `run` to stop, to forward to its child.
public final class StopRequest: Sendable {
    private let value = Mutex<Int32?>(nil)

    public init() {}

    public var signal: Int32? { value.withLock { $0 } }

    public func record(_ signal: Int32) {
        value.withLock { $0 = $0 ?? signal }
    }
}

/// How the child ended, for `run`'s own exit status.
public final class ChildExit: Sendable {
    private let value = Mutex<Int32?>(nil)

    public init() {}

    public var status: Int32? { value.withLock { $0 } }

    func record(_ status: Int32) {
        value.withLock { $0 = status }
    }
}
