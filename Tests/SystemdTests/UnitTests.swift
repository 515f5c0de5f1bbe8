import Foundation
import Testing
import TestSupport

/// The probe run as real `Type=notify` units with `WatchdogSec=` under the private systemd user
/// manager that `./dev test` starts.
@Suite("Under a real systemd manager", .shares(.userManager))
struct UnitTests {
    @Test func notifyUnitBecomesActiveShowsItsStatusAndIsKilledByTheWatchdogOnceItStalls() async throws {
        let probe = try BuildProducts.executable(named: "systemd-probe")
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let healthy = "probe-healthy-\(suffix).service"
        let wedged = "probe-wedged-\(suffix).service"
        try await UserManager.removing(healthy, wedged) {
            // On the watchdog's SIGABRT the Swift runtime's backtracer may take its time (or hang on
            // a debug build); TimeoutAbortSec bounds that, as the shipped units do.
            let properties = ["Type=notify", "WatchdogSec=2", "NotifyAccess=main", "TimeoutAbortSec=3s"]

            // systemd-run returns once READY=1 arrived: the readiness signal itself.
            let startedHealthy = try await UserManager.run(unit: healthy, properties: properties, command: [probe, "serve", "all good", "0"])
            #expect(startedHealthy.status == 0, "\(startedHealthy)")
            let startedWedged = try await UserManager.run(unit: wedged, properties: properties, command: [probe, "serve", "about to wedge", "1500"])
            #expect(startedWedged.status == 0, "\(startedWedged)")

            let running = try await UserManager.properties(of: wedged, ["ActiveState", "StatusText", "MainPID"])
            #expect(running["ActiveState"] == "active")
            #expect(running["StatusText"] == "about to wedge")
            let wedgedPID = try #require(running["MainPID"])

            // Wedged at 1.5 s, pings withheld from 2.5 s, killed by systemd about 2 s later.
            let failed = try await eventually("\(wedged) to be killed by its watchdog", timeout: .seconds(30)) {
                let state = try await UserManager.properties(of: wedged, ["ActiveState", "Result"])
                return state["ActiveState"] == "failed" ? state : nil
            }
            #expect(failed["Result"] == "watchdog")

            // The healthy twin, started at the same time, outlived that and is untouched.
            let survivor = try await UserManager.properties(of: healthy, ["ActiveState", "StatusText", "Result", "NRestarts"])
            #expect(survivor["ActiveState"] == "active")
            #expect(survivor["StatusText"] == "all good")
            #expect(survivor["Result"] == "success")

            // Under a unit, stderr is the journal stream, so the probe logged its stall to journald.
            let entries = try await Journal.waitForEntries(matching: ["SYSLOG_IDENTIFIER=systemd-probe", "_PID=\(wedgedPID)", "PRIORITY=4"])
            #expect(entries.contains { $0["MESSAGE"]?.hasPrefix("no progress for longer than") == true && $0["WATCHDOG_TIMEOUT_USEC"] == "2000000" })

            let stopped = try await UserManager.systemctl(["stop", healthy])
            #expect(stopped.status == 0, "\(stopped)")
            #expect(try await UserManager.properties(of: healthy, ["ActiveState"])["ActiveState"] == "inactive")
        }
    }
}
