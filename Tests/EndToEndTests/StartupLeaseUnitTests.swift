import Etcd
import Foundation
import Testing
import TestSupport

/// `acquire-lease` the way operators run it: a oneshot unit under the private systemd user
/// manager, whose finite start timeout the waiter extends while it waits.
@Suite("startup lease under systemd", .shares(.userManager), .timeLimit(.minutes(6)))
struct StartupLeaseUnitTests {
    @Test func aWaitingUnitOutlivesItsStartTimeoutAndStartsOnceReleased() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                let unit = "sm-lease-\(lease.label).service"
                try await UserManager.removing(unit) {
                    try await lease.acquireNow("first")
                    let started = try await UserManager.run(
                        unit: unit,
                        properties: ["Type=oneshot", "RemainAfterExit=yes", "NotifyAccess=main", "TimeoutStartSec=3s"],
                        command: [
                            try BuildProducts.executable(named: "service-monitor"), "acquire-lease", "--endpoints", cluster.clientURLs[0],
                            "--label", lease.label, "--service-id", "second", "--host-ip", "127.0.0.31",
                        ],
                        noBlock: true
                    )
                    #expect(started.status == 0, "\(started)")
                    _ = try await client.waitForRecord(lease.queueKey("second"), "queued") { $0 != nil }

                    // Twice its TimeoutStartSec later the unit is still starting: EXTEND_TIMEOUT_USEC works.
                    let waitingSince = ContinuousClock.now
                    while ContinuousClock.now - waitingSince < .seconds(6) {
                        let state = try await UserManager.properties(of: unit, ["ActiveState"])["ActiveState"]
                        try #require(state == "activating", "unit left activating while waiting: \(state ?? "?")")
                        try await Task.sleep(for: .milliseconds(500))
                    }

                    #expect(try await lease.release("first").status == 0)
                    let properties = try await waitForUnit(unit, toBe: "active")
                    #expect(properties["Result"] == "success")
                    #expect(try await lease.holders() == ["second"])

                    // Under the unit, stderr is the journal: the wait and the acquisition are structured entries.
                    let waiting = try await Journal.waitForEntries(
                        matching: ["SERVICE_MONITOR_LABEL=\(lease.label)", "MESSAGE_ID=d3f76e95acc944088ef3704fa2502e08"]
                    )
                    #expect(waiting.first?["SERVICE_MONITOR_QUEUE_POSITION"] == "0")
                    #expect(waiting.first?["SERVICE_MONITOR_HOLDERS"]?.hasPrefix("first (") == true, "\(waiting)")
                    let acquired = try await Journal.waitForEntries(
                        matching: ["SERVICE_MONITOR_LABEL=\(lease.label)", "MESSAGE_ID=1312ce24542f4c499e154aa232fa2363"]
                    )
                    #expect(acquired.first?["SERVICE_MONITOR_SERVICE_ID"] == "second")
                }
            }
        }
    }

    private func waitForUnit(_ unit: String, toBe state: String) async throws -> [String: String] {
        var properties: [String: String] = [:]
        try await eventually("\(unit) to be \(state) (\(properties))") {
            properties = try await UserManager.properties(of: unit, ["ActiveState", "Result"])
            return properties["ActiveState"] == state
        }
        return properties
    }
}
