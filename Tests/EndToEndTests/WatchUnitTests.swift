import Etcd
import Foundation
import Testing
import TestSupport

/// `watch` the way operators run it: a `Type=notify` unit with `WatchdogSec=` under the private
/// systemd user manager, logging to the real journald.
@Suite("watch under systemd", .shares(.userManager), .timeLimit(.minutes(6)))
struct WatchUnitTests {
    @Test func reachesActiveFollowsTheServiceInStatusLogsTransitionsAndDiesOfTheWatchdogWhenFrozen() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let service = try await StandIn()
            let label = uniqueLabel("unit")
            let unit = "sm-watch-\(label).service"
            try await UserManager.removing(unit) {
                let started = try await UserManager.run(
                    unit: unit,
                    properties: ["Type=notify", "WatchdogSec=3", "TimeoutAbortSec=3s", "NotifyAccess=main"],
                    command: [
                        try BuildProducts.executable(named: "service-monitor"), "watch", "--endpoints", cluster.clientURLs[0],
                        "--label", label, "--service-id", "u-1", "--monitor-url", service.url,
                        "--interval", "500ms", "--timeout", "300ms", "--host-ip", "127.0.0.21",
                    ]
                )
                // systemd-run returns once READY=1 arrived (default --ready-when started: registered).
                #expect(started.status == 0, "\(started)")
                var properties = try await UserManager.properties(of: unit, ["ActiveState", "StatusText", "MainPID"])
                #expect(properties["ActiveState"] == "active")
                let mainPID = try #require(properties["MainPID"])

                try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                    let key = "/service-monitor/\(label)/instances/u-1"
                    _ = try await client.waitForRecord(key, "registered up") { $0?.state == "up" }
                    let upStatus = try await eventually("StatusText to say up") {
                        let text = try await UserManager.properties(of: unit, ["StatusText"])["StatusText"] ?? ""
                        return text.hasPrefix("up · HTTP 200 in ") ? text : nil
                    }
                    #expect(upStatus.contains("registered 127.0.0.21"), "\(upStatus)")

                    try service.set(status: 503)
                    _ = try await client.waitForRecord(key, "down") { $0?.state == "down" }
                    let downStatus = try await eventually("StatusText to say down") {
                        let text = try await UserManager.properties(of: unit, ["StatusText"])["StatusText"] ?? ""
                        return text.hasPrefix("down · HTTP 503 in ") ? text : nil
                    }
                    #expect(downStatus.contains(" · since "), "\(downStatus)")
                    try service.set(status: 200)
                    _ = try await client.waitForRecord(key, "up again") { $0?.state == "up" }
                }

                // Under the unit, stderr is the journal stream: structured entries, filterable by label.
                let entries = try await Journal.waitForEntries(matching: ["SERVICE_MONITOR_LABEL=\(label)", "SERVICE_MONITOR_STATE=up"], count: 2)
                for entry in entries {
                    #expect(entry["MESSAGE_ID"] == "3c7a4f1e9b2d4e0f8a6b5c4d3e2f1a0b")
                    #expect(entry["PRIORITY"] == "5")
                    #expect(entry["SERVICE_MONITOR_SERVICE_ID"] == "u-1")
                    #expect(entry["SERVICE_MONITOR_HOST"] == "127.0.0.21")
                    #expect(entry["SERVICE_MONITOR_HTTP_STATUS"] == "200")
                    #expect(Int(entry["SERVICE_MONITOR_LATENCY_USEC"] ?? "") != nil)
                    #expect(entry["SYSLOG_IDENTIFIER"] == "service-monitor")
                }
                let down = try #require(await Journal.entries(matching: ["SERVICE_MONITOR_LABEL=\(label)", "MESSAGE_ID=b1e2d3c4a5f60718293a4b5c6d7e8f90"]).first)
                #expect(down["PRIORITY"] == "4")
                #expect(down["SERVICE_MONITOR_STATE"] == "down")
                #expect(down["SERVICE_MONITOR_HTTP_STATUS"] == "503")
                #expect(try await Journal.entries(matching: ["SERVICE_MONITOR_LABEL=\(label)", "MESSAGE_ID=5d8e1f2a3b4c4d5e9f0a1b2c3d4e5f60"]).count == 1)

                // Frozen: no pings, so systemd's watchdog ends it.
                #expect(kill(pid_t(mainPID)!, SIGSTOP) == 0)
                let failed = try await eventually("the frozen monitor to be killed by its watchdog", timeout: .seconds(30)) {
                    let state = try await UserManager.properties(of: unit, ["ActiveState", "Result"])
                    return state["ActiveState"] == "failed" ? state : nil
                }
                #expect(failed["Result"] == "watchdog")
                properties = try await UserManager.properties(of: unit, ["ActiveState"])
                #expect(properties["ActiveState"] == "failed")
            }
        }
    }

    @Test func readyWhenHealthyHoldsTheUnitInActivatingUntilTheFirstUp() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let service = try await StandIn()
            try service.set(status: 503)
            let label = uniqueLabel("ready")
            let unit = "sm-ready-\(label).service"
            try await UserManager.removing(unit) {
                let started = try await UserManager.run(
                    unit: unit,
                    properties: ["Type=notify", "NotifyAccess=main", "TimeoutStartSec=60"],
                    command: [
                        try BuildProducts.executable(named: "service-monitor"), "watch", "--endpoints", cluster.clientURLs[0],
                        "--label", label, "--service-id", "h-1", "--monitor-url", service.url,
                        "--interval", "300ms", "--timeout", "200ms", "--host-ip", "127.0.0.22", "--ready-when", "healthy",
                    ],
                    noBlock: true
                )
                #expect(started.status == 0, "\(started)")
                try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                    // Registered as down, and still starting as far as systemd is concerned.
                    _ = try await client.waitForRecord("/service-monitor/\(label)/instances/h-1", "down") { $0?.state == "down" }
                    let checksBefore = service.served.count
                    try await eventually("two more checks") { service.served.count >= checksBefore + 2 }
                    #expect(try await UserManager.properties(of: unit, ["ActiveState"])["ActiveState"] == "activating")

                    try service.set(status: 200)
                    _ = try await client.waitForRecord("/service-monitor/\(label)/instances/h-1", "up") { $0?.state == "up" }
                    let active = try await eventually("the unit to become active") {
                        try await UserManager.properties(of: unit, ["ActiveState"])["ActiveState"] == "active" ? true : nil
                    }
                    #expect(active)
                }
            }
        }
    }
}
