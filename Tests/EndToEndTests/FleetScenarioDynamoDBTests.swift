import Foundation
import Testing
import TestSupport

/// The fleet example under systemd again, on DynamoDB (moto): the same shipped units, told by
/// their environment file to use `--backend dynamodb`, as an operator on AWS would configure
/// them. What etcd's watch history shows in the etcd scenario, the journal and systemd show here.
@Suite("fleet scenario under systemd, on DynamoDB", .needsAlone(.userManager), .timeLimit(.minutes(3)))
struct FleetScenarioDynamoDBTests {
    @Test func threeInstancesStartOneAtATimeDiscoverEachOtherAndLeave() async throws {
        try await MotoServer.with { moto in
            // moto takes any secret; this one is looked for in the journal afterwards.
            let secret = "fleet-secret-" + UUID().uuidString
            let backend = [
                "SERVICE_MONITOR_BACKEND": "dynamodb", "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_DYNAMODB": moto.endpoint,
                "AWS_ACCESS_KEY_ID": "AKIDFLEET", "AWS_SECRET_ACCESS_KEY": secret,
                // Nothing of the test host's own AWS set-up.
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials", "AWS_CONFIG_FILE": "/nonexistent/config",
                "AWS_EC2_METADATA_DISABLED": "true",
            ]
            // No etcd runs: the endpoints the script writes point nowhere, and nothing asks them.
            let fleet = try await Fleet(endpoints: "http://127.0.0.1:9", backend: backend)
            try await tearingDown(fleet.tearDown) {
                let created = try await fleet.serviceMonitor(["create-table"])
                try #require(created.status == 0, "\(created)")
                let cursor = try await Journal.cursor()
                try await scenario(fleet)
                // Nothing the units or their service-monitor processes logged shows the secret.
                let start = try Journal.realtime(ofCursor: cursor)
                let journal = try await Command.run("journalctl", ["--no-pager", "-o", "json", "--all", "--since", "@\(start / 1_000_000)"])
                #expect(journal.standardOutput.contains("elasticsearch-1"), "the journal scan saw none of the fleet's entries")
                #expect(!journal.standardOutput.contains(secret), "the AWS secret reached the journal")
            }
        }
    }

    private func scenario(_ fleet: Fleet) async throws {
        let cursor = try await Journal.cursor()
        // All three at the same moment: one start job each, queued in one call.
        let start = try await UserManager.systemctl(["start", "--no-block"] + Fleet.instances.map { fleet.main($0) })
        try #require(start.status == 0, "\(start)")

        // Each instance's lease, from the journal: acquired three times, released three times.
        let acquired = try await eventually("three leases acquired and released", timeout: .seconds(90), every: .milliseconds(500)) {
            () -> [Journal.Entry]? in
            let acquired = try await fleet.journal(cursor, ["MESSAGE_ID=\(MessageIDs.leaseAcquired)"])
            let released = try await fleet.journal(cursor, ["MESSAGE_ID=\(MessageIDs.leaseReleased)"])
            return acquired.count == 3 && released.count == 3 ? acquired : nil
        }
        let order = acquired.sorted { monotonic($0) < monotonic($1) }.compactMap { $0["SERVICE_MONITOR_SERVICE_ID"] }
        try #require(Set(order) == Set(Fleet.instances.map(Fleet.serviceID)) && order.count == 3, "acquired: \(acquired)")

        // One at a time: each acquired after the one before it was up (which released it).
        for (position, id) in order.enumerated() where position > 0 {
            let previous = order[position - 1]
            let up = try await fleet.journal(cursor, ["MESSAGE_ID=\(MessageIDs.up)", "SERVICE_MONITOR_SERVICE_ID=\(previous)"])
            let released = try await fleet.journal(cursor, ["MESSAGE_ID=\(MessageIDs.leaseReleased)", "SERVICE_MONITOR_SERVICE_ID=\(previous)"])
            let taken = try #require(acquired.first { $0["SERVICE_MONITOR_SERVICE_ID"] == id })
            try #require(!up.isEmpty && released.count == 1, "up \(up), released \(released)")
            let firstUp = up.map(monotonic).min()!
            #expect(firstUp < monotonic(released[0]), "\(previous) released before it was up")
            #expect(firstUp < monotonic(taken), "\(id) acquired before \(previous) was up")
        }
        // systemd: each main service started after its lease unit finished, in the lease's order.
        var mainStarts: [Int64] = []
        for id in order {
            let instance = Fleet.instance(of: id)
            let main = try await UserManager.properties(of: fleet.main(instance), ["ExecMainStartTimestampMonotonic"])
            let lease = try await UserManager.properties(of: fleet.lease(instance), ["ExecMainExitTimestampMonotonic", "Result"])
            let started = try #require(Int64(main["ExecMainStartTimestampMonotonic"] ?? ""), "\(main)")
            let leaseDone = try #require(Int64(lease["ExecMainExitTimestampMonotonic"] ?? ""), "\(lease)")
            #expect(lease["Result"] == "success", "\(lease)")
            #expect(started >= leaseDone, "\(fleet.main(instance)) started before its lease unit finished")
            mainStarts.append(started)
        }
        #expect(mainStarts == mainStarts.sorted(), "main services did not start in lease order: \(mainStarts)")
        // Each was handed the ones before it: the first an empty list, then one, then two.
        for (position, id) in order.enumerated() {
            let handed = try String(contentsOfFile: fleet.state + "/unicast-hosts-\(Fleet.instance(of: id))", encoding: .utf8)
            let expected = order[..<position].map { Fleet.address(Fleet.instance(of: $0)) + ":9300" }.joined(separator: ",")
            #expect(handed == expected + "\n", "\(id) (#\(position + 1) to start) was handed \(handed.debugDescription)")
        }

        // Discovery and status agree: three up in the order they registered, nothing waiting.
        let expectedHosts = order.map { Fleet.address(Fleet.instance(of: $0)) }.joined(separator: ",") + "\n"
        let hosts = try await fleet.settled(["hosts", "--label", "elasticsearch"]) { $0.standardOutput == expectedHosts }
        #expect(hosts.status == 0 && hosts.standardOutput == expectedHosts, "\(hosts)")
        let status = try await fleet.serviceMonitor(["status", "--label", "elasticsearch", "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [String: Any], "\(status)")
        let label = try #require((report["labels"] as? [[String: Any]])?.first, "\(status)")
        let instances = try #require(label["instances"] as? [[String: Any]], "\(status)")
        #expect(instances.compactMap { $0["service_id"] as? String } == order, "\(status)")
        #expect(instances.allSatisfy { $0["state"] as? String == "up" }, "\(status)")
        let startup = try #require(label["startup"] as? [String: Any], "\(status)")
        #expect((startup["queue"] as? [Any])?.isEmpty == true && (startup["holders"] as? [Any])?.isEmpty == true, "\(status)")

        // Stopping instance 2's main unit stops its monitor, which removes its record on the way.
        let stop = try await UserManager.systemctl(["stop", fleet.main(2)])
        #expect(stop.status == 0, "\(stop)")
        let remaining = order.filter { $0 != Fleet.serviceID(2) }.map { Fleet.address(Fleet.instance(of: $0)) }.joined(separator: ",") + "\n"
        let after = try await fleet.serviceMonitor(["hosts", "--label", "elasticsearch"])
        #expect(after.standardOutput == remaining, "elasticsearch-2 still listed once its unit stopped: \(after)")
        let deregistered = try await fleet.journal(cursor, ["MESSAGE_ID=\(MessageIDs.deregistered)", "SERVICE_MONITOR_SERVICE_ID=elasticsearch-2"])
        #expect(deregistered.count == 1, "\(deregistered)")
    }

    private func monotonic(_ entry: Journal.Entry) -> UInt64 {
        UInt64(entry["__MONOTONIC_TIMESTAMP"] ?? "") ?? 0
    }
}
