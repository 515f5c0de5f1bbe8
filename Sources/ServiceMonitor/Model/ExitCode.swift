/// The exit codes every command uses (sysexits(3); docs/commands.md, Exit codes).
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    /// A negative outcome that is not an error: lease not acquired in time, `--min` not met.
    case negative = 1
    /// Bad command line or input (EX_USAGE).
    case usage = 64
    /// etcd unreachable (EX_UNAVAILABLE).
    case unavailable = 69
    /// An internal error: a failure no other status describes (EX_SOFTWARE).
    case software = 70
    /// Authentication failed or permission denied (EX_NOPERM).
    case permissionDenied = 77
    /// Bad configuration, e.g. unreadable TLS files (EX_CONFIG).
    case configuration = 78
}
