#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One `NAME=value` line of the sd_notify protocol.
public struct NotifyAssignment: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let value: String

    /// An arbitrary assignment. `name` and `value` must not contain newlines (the protocol is
    /// line based); ``Notifier/notify(_:)`` rejects those rather than send a garbled message.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    /// The service finished starting up (`READY=1`).
    public static let ready = NotifyAssignment(name: "READY", value: "1")
    /// The service is beginning its shutdown (`STOPPING=1`).
    public static let stopping = NotifyAssignment(name: "STOPPING", value: "1")
    /// The service is reloading its configuration (`RELOADING=1`).
    public static let reloading = NotifyAssignment(name: "RELOADING", value: "1")
    /// Keep-alive ping for `WatchdogSec=` (`WATCHDOG=1`).
    public static let watchdog = NotifyAssignment(name: "WATCHDOG", value: "1")
    /// Asks systemd to act as if the watchdog had expired (`WATCHDOG=trigger`).
    public static let watchdogTrigger = NotifyAssignment(name: "WATCHDOG", value: "trigger")

    /// A one-line status shown by `systemctl status` (`STATUS=…`). Newlines become spaces, since a
    /// status is a single line by definition.
    public static func status(_ text: String) -> NotifyAssignment {
        NotifyAssignment(name: "STATUS", value: text.replacingNewlines(with: " "))
    }

    /// Extends the current start/stop timeout by `duration` (`EXTEND_TIMEOUT_USEC=…`).
    public static func extendTimeout(by duration: Duration) -> NotifyAssignment {
        NotifyAssignment(name: "EXTEND_TIMEOUT_USEC", value: String(duration.wholeMicroseconds))
    }

    /// The main process id, when it is not the process that notifies (`MAINPID=…`).
    public static func mainPID(_ pid: Int32) -> NotifyAssignment {
        NotifyAssignment(name: "MAINPID", value: String(pid))
    }

    /// An `errno`-style failure code reported with the status (`ERRNO=…`).
    public static func errno(_ code: Int32) -> NotifyAssignment {
        NotifyAssignment(name: "ERRNO", value: String(code))
    }

    public var description: String { "\(name)=\(value)" }
}

/// What a notification achieved.
public enum NotifyOutcome: Sendable, Hashable {
    /// The datagram reached the service manager's notify socket.
    case sent
    /// There is no notify socket (`NOTIFY_SOCKET` unset): the process is not supervised by a
    /// `Type=notify` unit, so nothing was sent. Not an error.
    case notSupervised
}

/// Sends state changes to the service manager over the sd_notify protocol.
///
/// Several assignments given to one call travel in one datagram, so systemd sees them at once
/// (for example `READY=1` together with the first `STATUS=`).
public struct Notifier: Sendable {
    /// Notify on behalf of this process id instead of the caller (`sd_pid_notify`); `nil` means
    /// the calling process.
    public var pid: Int32?

    public init(pid: Int32? = nil) {
        self.pid = pid
    }

    /// Whether a notify socket is configured for this process.
    public static var isSupervised: Bool { getenv("NOTIFY_SOCKET") != nil }

    @discardableResult
    public func notify(_ assignments: NotifyAssignment...) throws(SystemdError) -> NotifyOutcome {
        try notify(assignments)
    }

    @discardableResult
    public func notify(_ assignments: [NotifyAssignment]) throws(SystemdError) -> NotifyOutcome {
        for assignment in assignments {
            let name = assignment.name
            let nameIsValid = !name.isEmpty && !name.contains("=")
                && !name.contains(where: \.isNewline) && !assignment.value.contains(where: \.isNewline)
            guard nameIsValid else {
                throw SystemdError(code: .invalidArgument, message: "notify assignment \(assignment.description.debugDescription) must be one NAME=value line")
            }
        }
        let state = assignments.map(\.description).joined(separator: "\n")
        return try LibSystemd.notify(state, pid: pid) ? .sent : .notSupervised
    }
}

extension Duration {
    /// Whole microseconds, rounded down; negative durations clamp to zero.
    var wholeMicroseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000)
    }
}
