import Foundation
import Logging
import Systemd
import Testing
import TestSupport

@Suite("Watchdog", .tags(.fast))
struct WatchdogTests {
    let probe: String

    init() throws {
        probe = try BuildProducts.executable(named: "systemd-probe")
    }

    @Test func readsTheTimeoutAndHonoursWatchdogPID() async throws {
        let none = try await Command.run(probe, ["watchdog"], environment: ["WATCHDOG_USEC": nil, "WATCHDOG_PID": nil])
        #expect(none.standardOutput == "none\n", "\(none)")

        let configured = try await Command.run(probe, ["watchdog"], environment: ["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": nil])
        #expect(configured.standardOutput == "3000000\n", "\(configured)")

        // A watchdog meant for another process (pid 1 is never the probe) is not ours.
        let otherProcess = try await Command.run(probe, ["watchdog"], environment: ["WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"])
        #expect(otherProcess.standardOutput == "none\n", "\(otherProcess)")

        let malformed = try await Command.run(probe, ["watchdog"], environment: ["WATCHDOG_USEC": "soon", "WATCHDOG_PID": nil])
        #expect(malformed.status == 1)
        #expect(malformed.standardOutput.hasPrefix("error: watchdogQueryFailed"), "\(malformed)")
    }

    @Test func recommendsPingingAtHalfTheTimeout() {
        #expect(Watchdog(timeout: .seconds(3)).pingInterval == .milliseconds(1500))
    }

    @Test func countsALoopAsStalledOnceItStopsBeating() {
        let progress = ProgressSignal()
        let pinger = WatchdogPinger(watchdog: Watchdog(timeout: .seconds(2)), progress: progress, stallTimeout: .seconds(1), logger: Logger(label: "test"))
        let beat = progress.lastProgress
        #expect(pinger.isProgressing(at: beat + .milliseconds(999)))
        #expect(!pinger.isProgressing(at: beat + .milliseconds(1001)))
        #expect(WatchdogPinger(watchdog: Watchdog(timeout: .seconds(2)), progress: progress, logger: Logger(label: "test")).stallTimeout == .seconds(2))
    }

    /// The probe's work loop beats every 100 ms and wedges after 600 ms; its pinger (1 s stall
    /// timeout, 200 ms ping period) must ping while the loop beats and then fall silent.
    @Test func pingsOnlyWhileTheLoopMakesProgress() async throws {
        let socket = try NotifySocket()
        let errorLog = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: errorLog.path, contents: nil)
        let process = try Command.start(
            probe,
            ["serve", "probing", "600"],
            environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000", "WATCHDOG_PID": nil, "JOURNAL_STREAM": nil],
            standardError: try FileHandle(forWritingTo: errorLog)
        )
        defer {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(at: errorLog)
        }
        #expect(await socket.receive(timeout: .seconds(10)) == "READY=1\nSTATUS=probing")

        var pings = 0
        var lastPing = ContinuousClock.now
        let started = ContinuousClock.now
        // Pings come every 200 ms; a gap of a whole second means they stopped.
        while let datagram = await socket.receive(timeout: .seconds(1)) {
            #expect(datagram == "WATCHDOG=1")
            pings += 1
            lastPing = .now
            try #require(ContinuousClock.now - started < .seconds(10), "pings never stopped")
        }
        // Wedged at 0.6 s, stalled from 1.6 s: about 8 pings, and none after the stall.
        #expect(pings >= 4, "only \(pings) pings while the loop was beating")
        #expect(lastPing - started < .milliseconds(2500), "pinged until \(lastPing - started)")

        process.terminate()
        #expect(await socket.receive(timeout: .seconds(10)) == "STOPPING=1")
        await process.waitForExit()
        #expect(process.terminationStatus == 0)

        // Without JOURNAL_STREAM the auto log target is the console: one line with the fields.
        let console = try String(contentsOf: errorLog, encoding: .utf8)
        let warning = try #require(console.split(separator: "\n").first { $0.contains(" WARNING systemd-probe: no progress") })
        #expect(warning.contains("WATCHDOG_TIMEOUT_USEC=400000"), "\(warning)")
        #expect(warning.contains("LOGGER=systemd-probe"), "\(warning)")
    }
}
