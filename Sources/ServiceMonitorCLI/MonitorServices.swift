import Logging
import Posix
import ServiceLifecycle
import ServiceMonitor
import Systemd

/// The monitor of one instance and, under a unit with `WatchdogSec=`, its watchdog pinger: the
/// services `watch` and `run` both put in their group.
enum MonitorServices {
    static func make(
        _ configuration: MonitorConfiguration, checks: HealthCheckSet, watchdog: Watchdog?,
        backend: some StoreBackend, metrics: MonitorMetrics, settings: Settings, logger: Logger
    ) -> (monitor: any Service, watchdogPinger: (any Service)?) {
        let progress = ProgressSignal()
        let monitor = Monitor(
            configuration: configuration, checks: checks, backend: backend, progress: progress, metrics: metrics, logger: logger,
            // The first check and the first registration each first use much of the program; the
            // steady loop reads back only what it runs.
            startupStageEnded: { LoadedImage.releaseFileBackedPages() }
        )
        guard let watchdog else { return (monitor, nil) }
        // A healthy loop completes a check at least every interval + timeout.
        let stallTimeout = configuration.interval + configuration.checks.timeout + settings.commandTimeout
        return (monitor, WatchdogPinger(watchdog: watchdog, progress: progress, stallTimeout: stallTimeout, logger: logger))
    }
}
