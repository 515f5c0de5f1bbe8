import Etcd
import Foundation
import Testing
import TestSupport

extension PartitionTests {
    /// A queued `acquire-lease` whose host is cut while the holder releases.
    @Test func queuedWaiterCutOffLetsTheQueueMoveOnAndExits69WithoutTheLease() async throws {
        try await withPartitionNetwork(clients: 1) { network, cluster, client, clients in
            let host = clients[0]
            let endpoints = cluster.clientURLs.joined(separator: ",")
            let lease = StartupLeaseFixture(cluster, client, label: uniqueLabel("cutqueue"), endpoints: endpoints)
            try await lease.acquireNow("h")
            let cutOff = try MonitorProcess(
                [
                    "acquire-lease", "--endpoints", endpoints, "--label", lease.label, "--service-id", "w-1",
                    "--host-ip", host.address, "--log-target", "console",
                ],
                network: network, host: host
            )
            _ = try await client.waitForRecord(lease.queueKey("w-1"), "w-1 queued") { $0 != nil }
            let behind = try await lease.startQueued("w-2")

            try await lease.withHolderHistory { holders in
                try await network.cut(host, from: Array(network.hosts.prefix(3)))
                let cut = ContinuousClock.now
                #expect(try await lease.release("h").status == 0)
                #expect(try await behind.waitForExit(timeout: .seconds(20), "w-2 to acquire past the cut-off w-1") == 0, "\(behind.log)")
                let movedOn = ContinuousClock.now - cut
                let status = try await cutOff.waitForExit(timeout: .seconds(30), "the cut-off waiter to exit")
                let exited = ContinuousClock.now - cut
                print("queue moved on \(movedOn) after the cut; the cut-off waiter exited \(status) after \(exited)")
                #expect(movedOn <= .seconds(10))
                #expect(status == 69, "\(cutOff.log)")
                #expect(try await lease.holders() == ["w-2"])
                try await network.heal(host)
                #expect(try await lease.release("w-2").status == 0)
                try await holders.waitFor(count: 3)
                #expect(holders.all.map(\.description) == ["-h", "+w-2", "-w-2"], "w-1 held: \(holders.all)")
            }
        }
    }

    /// `hosts --watch` on the leader when it is cut off in a minority.
    @Test func hostsWatchOnAMemberThatBecomesAMinorityContinuesFromTheMajorityMissingNoChange() async throws {
        try await withPartitionNetwork(clients: 1) { network, cluster, client, clients in
            let host = clients[0]
            let leader = try await cluster.leader()
            let majority = cluster.members.indices.filter { $0 != leader }
            let label = uniqueLabel("minoritywatch")
            let instances = "/service-monitor/\(label)/instances/"
            func record(_ id: String, _ address: String, _ state: String) -> String {
                #"{"service_id":"\#(id)","host":"\#(address)","state":"\#(state)","since":"2026-12-02T00:00:00Z","detail":"","info":{}}"#
            }
            try await client.put(instances + "a", value: record("a", "10.9.9.1", "up"))
            let follow = try HostsFollower(endpoints: cluster.endpoints(startingAt: leader), label: label, network: network, host: host)
            var expected = ["10.9.9.1"]
            try await follow.expectLines(expected)

            let majorityURLs = majority.map { cluster.members[$0].clientURL }
            try await withEtcdClient(.init(endpoints: majorityURLs, requestTimeout: .seconds(1))) { majoritySide in
                try await network.cut(network.hosts[leader], from: majority.map { network.hosts[$0] })
                let cut = ContinuousClock.now
                // The changes are made once the majority has elected a leader of its own (a write
                // before then is lost with the old leader).
                try await eventually("the majority to elect a leader", timeout: .seconds(15)) {
                    (try? await majoritySide.put("/probe-\(label)", value: "x")) != nil
                }
                let changed = ContinuousClock.now
                try await majoritySide.put(instances + "b", value: record("b", "10.9.9.2", "up"))
                expected.append("10.9.9.1,10.9.9.2")
                try await majoritySide.put(instances + "a", value: record("a", "10.9.9.1", "down"))
                expected.append("10.9.9.2")
                try await eventually("hosts --watch to print the change (printed \(follow.lines))", timeout: .seconds(15)) {
                    follow.lines.last == expected.last
                }
                let continued = ContinuousClock.now - changed
                print("hosts --watch printed the majority's changes \(continued) after they were made, \(ContinuousClock.now - cut) after the cut")
                #expect(continued < .seconds(5), "the default --command-timeout is 5 s")
                // Changes made while it moved may print as their net result; none is lost.
                #expect(Array(follow.lines.prefix(1)) == ["10.9.9.1"])
                #expect(follow.lines.dropFirst().allSatisfy { expected.dropFirst().contains($0) }, "\(follow.lines)")
                expected = follow.lines + ["10.9.9.2,10.9.9.3"]
                try await majoritySide.put(instances + "c", value: record("c", "10.9.9.3", "up"))
                try await follow.expectLines(expected)
                try await network.heal(network.hosts[leader])
            }
            #expect(try await follow.stop() == 0)
        }
    }
}
