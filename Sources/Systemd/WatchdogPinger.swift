public import Logging
public import ServiceLifecycle

/// Pings the systemd watchdog every ``Watchdog/pingInterval`` — but only while a
/// ``ProgressSignal`` keeps moving.
///
/// A monitor whose check loop is wedged (a hung check, an etcd call stuck past its deadline)
/// must stop pinging so that `WatchdogSec=` restarts it; a pinger on its own timer would keep a
/// dead loop looking alive. The loop is considered stalled once it has not beaten for
/// `stallTimeout`, which the owner sets to the longest a healthy iteration can take.
public struct WatchdogPinger: Service {
    public let watchdog: Watchdog
    public let progress: ProgressSignal
    public let stallTimeout: Duration
    public var notifier: Notifier
    public var logger: Logger

    public init(
        watchdog: Watchdog,
        progress: ProgressSignal,
        stallTimeout: Duration? = nil,
        notifier: Notifier = Notifier(),
        logger: Logger
    ) {
        self.watchdog = watchdog
        self.progress = progress
        self.stallTimeout = stallTimeout ?? watchdog.timeout
        self.notifier = notifier
        self.logger = logger
    }

    /// Whether the watched loop counts as alive at `now`.
    public func isProgressing(at now: ContinuousClock.Instant = .now) -> Bool {
        now - progress.lastProgress <= stallTimeout
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var stalled = false
            while !Task.isCancelled {
                if isProgressing() {
                    if stalled {
                        stalled = false
                        logger.notice("progress resumed; watchdog pings resume")
                    }
                    do {
                        try notifier.notify(.watchdog)
                    } catch {
                        logger.error("watchdog ping failed", metadata: ["error": "\(error)"])
                    }
                } else if !stalled {
                    stalled = true
                    logger.warning(
                        "no progress for longer than \(stallTimeout); withholding watchdog pings so systemd can restart this service",
                        metadata: ["watchdog.timeout_usec": "\(watchdog.timeout.wholeMicroseconds)"]
                    )
                }
                // Cancellation (graceful shutdown) ends the loop; it is not a failure.
                do {
                    try await Task.sleep(for: watchdog.pingInterval)
                } catch {
                    return
                }
            }
        }
    }
}
