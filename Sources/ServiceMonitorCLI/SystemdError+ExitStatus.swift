import Posix
public import ServiceMonitor
public import Systemd

#if canImport(Glibc)
import Glibc
#endif

/// How a systemd failure ends a command: an environment systemd would not have set
/// (`WATCHDOG_USEC=abc`) is the unit's configuration, 78; a bad argument is a bug, 70; the
/// service manager or journal not answering, 69.
extension SystemdError: ExitStatusConvertible {
    public var exitStatus: ExitStatus {
        switch code {
        case .watchdogQueryFailed: .configuration
        case .invalidArgument: .software
        default: .unavailable
        }
    }

    public var exitMessage: String {
        "systemd: \(message)" + (errno.map { " (\(PosixError.reason(of: $0)))" } ?? "")
    }
}
