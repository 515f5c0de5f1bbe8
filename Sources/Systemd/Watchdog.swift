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
    /// - Throws: ``SystemdError/Code/watchdogQueryFailed`` naming the variables when they are
    ///   not what systemd would set (a positive number of microseconds, a pid).
    public static func fromEnvironment() throws(SystemdError) -> Watchdog? {
        do {
            return try LibSystemd.watchdogTimeout().map(Watchdog.init(timeout:))
        } catch {
            let names: [String] = ["WATCHDOG_USEC", "WATCHDOG_PID"]
            let settings = names.compactMap { name -> String? in
                guard let value = getenv(name) else { return nil }
                return "\(name)=\(String(cString: value).debugDescription)"
            }
            throw SystemdError(
                code: error.code,
                message: "\(settings.joined(separator: " ")) is not a watchdog setting systemd would pass "
                    + "(WATCHDOG_USEC: microseconds, WATCHDOG_PID: a pid); fix WatchdogSec= or unset them",
                errno: error.errno
            )
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
