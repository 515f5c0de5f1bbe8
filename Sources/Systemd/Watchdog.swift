/// The service manager's watchdog settings for this process (`WatchdogSec=` on the unit).
public struct Watchdog: Sendable, Hashable {
    /// How long systemd waits for a ping before it declares the service hung.
    public let timeout: Duration

    public init(timeout: Duration) {
        self.timeout = timeout
    }

    /// How often to ping: half the timeout, as sd_watchdog_enabled(3) recommends, so one late
    /// ping does not kill the service.
    public var pingInterval: Duration { timeout / 2 }

    /// The watchdog configured for this process, or `nil` when there is none. Reads
    /// `WATCHDOG_USEC` and honours `WATCHDOG_PID` (a watchdog meant for another process is `nil`).
    public static func fromEnvironment() throws(SystemdError) -> Watchdog? {
        try LibSystemd.watchdogTimeout().map(Watchdog.init(timeout:))
    }
}
