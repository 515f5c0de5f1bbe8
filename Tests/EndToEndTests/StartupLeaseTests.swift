import Etcd
import Foundation
import Testing
import TestSupport

/// `acquire-lease` / `release-lease` as real processes against a real etcd: FIFO, slots, time
/// limits, crash safety, idempotency, no herd, and the release by `watch`.
@Suite("startup lease", .timeLimit(.minutes(2)))
struct StartupLeaseTests {
    @Test func tenWaitersAcquireInTheOrderTheyAskedEachAfterTheRelease() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                let ids = (0..<10).map { "s-\($0)" }
                try await lease.withHolderHistory { history in
                    try await lease.acquireNow(ids[0])
                    // Names sort differently from arrival (s-10 style): order must come from etcd.
                    var waiters: [MonitorProcess] = []
                    for id in ids.dropFirst() {
                        waiters.append(try await lease.startQueued(id))
                    }
                    #expect(try await lease.queue() == Array(ids.dropFirst()))

                    for index in 0..<9 {
                        #expect(try await lease.holders() == [ids[index]])
                        #expect(waiters[index...].allSatisfy { $0.isRunning }, "a waiter finished before its turn")
                        let released = try await lease.release(ids[index])
                        #expect(released.status == 0)
                        #expect(released.standardOutput == "released startup lease of \(ids[index]) for \(lease.label)\n", "\(released)")
                        #expect(try await waiters[index].waitForExit(timeout: .seconds(10), "\(ids[index + 1]) to acquire") == 0)
                        #expect(waiters[index].log.contains("MESSAGE_ID=1312ce24542f4c499e154aa232fa2363"), "\(waiters[index].log)")
                    }
                    #expect(try await lease.release(ids[9]).status == 0)
                    try await history.waitFor(count: 20)
                    // One holder at a time, each in turn, each only after the previous left.
                    #expect(history.all.map(\.description) == ids.flatMap { ["+\($0)", "-\($0)"] })
                    #expect(try await lease.queue().isEmpty)
                }
            }
        }
    }

    @Test func threeSlotsNeverHoldMoreThanThree() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                let ids = (0..<8).map { "n-\($0)" }
                try await lease.withHolderHistory { history in
                    // Started together: they race for the slots.
                    let waiters = try ids.map { try lease.startAcquire($0, ["--slots", "3"]) }
                    try await eventually("3 holders and 5 waiters") {
                        let holders = try await lease.holders(), queue = try await lease.queue()
                        return holders.count == 3 && queue.count == 5
                    }
                    var remaining = ids.count
                    while remaining > 0 {
                        let oldest = try #require(try await lease.holders().first)
                        #expect(try await lease.release(oldest).status == 0)
                        remaining -= 1
                        try await eventually("\(min(3, remaining)) holders after releasing \(oldest)") {
                            try await lease.holders().count == min(3, remaining)
                        }
                    }
                    for waiter in waiters {
                        #expect(try await waiter.waitForExit(timeout: .seconds(10)) == 0, "\(waiter.log)")
                    }
                    try await history.waitFor(count: 16)
                    #expect(history.mostAtOnce == 3, "\(history.all)")
                }
            }
        }
    }

    @Test func givesUpAfterTheAcquireTimeoutAndLeavesTheQueue() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                try await lease.acquireNow("holder")
                let started = ContinuousClock.now
                let waiter = try await lease.startQueued("late", ["--acquire-timeout", "2s"])
                #expect(try await waiter.waitForExit(timeout: .seconds(10)) == 1)
                let waited = ContinuousClock.now - started
                #expect(waited >= .seconds(2) && waited < .seconds(6), "waited \(waited)")
                #expect(try await lease.queue().isEmpty, "queue entry left behind")
                #expect(try await lease.holders() == ["holder"])
                let errors = waiter.log.split(separator: "\n").filter { $0.hasPrefix("service-monitor: ") }
                #expect(errors == ["service-monitor: startup lease for \(lease.label) not acquired within --acquire-timeout 2s; left the queue"], "\(waiter.log)")
                #expect(waiter.log.contains("MESSAGE_ID=358567a7dd0449898bf86b93780301c3"), "\(waiter.log)")

                // SIGTERM while waiting: also exit 1, queue entry removed at once (not left to expire).
                let interrupted = try await lease.startQueued("interrupted")
                interrupted.process.terminate()
                #expect(try await interrupted.waitForExit(timeout: .seconds(10)) == 1)
                #expect(try await lease.queue().isEmpty, "queue entry left behind after SIGTERM")
                #expect(interrupted.log.contains("service-monitor: interrupted while waiting for the startup lease for \(lease.label); left the queue"))
                #expect(interrupted.lines(containing: "SERVICE_MONITOR_WAKE=").isEmpty, "\(interrupted.log)")
            }
        }
    }

    @Test func sighupWhileQueuedLeavesTheQueueLikeSIGTERM() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                try await lease.acquireNow("holder")
                let hungUp = try await lease.startQueued("hung-up")
                hungUp.hangUp()
                #expect(try await hungUp.waitForExit(timeout: .seconds(10), "acquire-lease to exit on SIGHUP") == 1, "\(hungUp.log)")
                #expect(try await lease.queue().isEmpty, "queue entry left behind after SIGHUP")
                #expect(try await lease.holders() == ["holder"])
                // Its own last words: status 1 alone could also be death by SIGHUP (signal 1).
                #expect(hungUp.log.contains("service-monitor: interrupted while waiting for the startup lease for \(lease.label); left the queue"), "\(hungUp.log)")
            }
        }
    }

    @Test func aHolderThatNeverReleasesBlocksUntilItsLeaseTimeout() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                let holderStarted = ContinuousClock.now
                try await lease.acquireNow("stuck", ["--lease-timeout", "3s"])
                let waiter = try await lease.startQueued("next")
                #expect(try await waiter.waitForExit(timeout: .seconds(15), "next to acquire after the holder's lease ran out") == 0)
                let blocked = ContinuousClock.now - holderStarted
                // etcd expires leases on its own schedule (checked every 500 ms).
                #expect(blocked >= .milliseconds(2800) && blocked < .seconds(8), "blocked for \(blocked)")
                #expect(try await lease.holders() == ["next"])
                // The waiter said who held, with the time left.
                #expect(waiter.log.contains("held by stuck ("), "\(waiter.log)")
            }
        }
    }

    @Test func aKilledWaiterStopsBlockingWithinItsQueueTTL() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                try await lease.acquireNow("head")
                let doomed = try await lease.startQueued("doomed")
                let behind = try await lease.startQueued("behind")
                await doomed.kill9()
                let released = ContinuousClock.now
                #expect(try await lease.release("head").status == 0)
                #expect(try await behind.waitForExit(timeout: .seconds(15), "behind to get past the dead waiter") == 0)
                #expect(ContinuousClock.now - released < .seconds(13))
                #expect(try await lease.holders() == ["behind"])
                #expect(try await lease.queue().isEmpty)
            }
        }
    }

    @Test func theHolderAskingAgainGetsItAtOnceWithAFreshLease() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                try await lease.acquireNow("again", ["--lease-timeout", "30s"])
                let before = try #require(try await client.range(.key(lease.holderKey("again"))).kvs.first)
                let ttlBefore = try await client.leaseTimeToLive(before.lease).ttl
                #expect((1...30).contains(ttlBefore))

                let started = ContinuousClock.now
                let second = try await lease.acquireNow("again", ["--lease-timeout", "2m"])
                #expect(ContinuousClock.now - started < .seconds(5))
                #expect(second.log.contains("MESSAGE_ID=1312ce24542f4c499e154aa232fa2363"))
                let after = try #require(try await client.range(.key(lease.holderKey("again"))).kvs.first)
                #expect(after.createRevision == before.createRevision)
                #expect(after.lease != before.lease)
                #expect(try await client.leaseTimeToLive(after.lease).ttl > 100)
                // The old lease is revoked, not left to run out.
                #expect(try await client.leaseTimeToLive(before.lease).ttl == -1)
                #expect(try await lease.queue().isEmpty)
            }
        }
    }

    @Test func releaseTouchesOnlyTheCallersOwnSlot() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                try await lease.acquireNow("owner")
                var result = try await lease.release("stranger")
                #expect(result.status == 0)
                #expect(result.standardOutput == "stranger held no startup lease for \(lease.label)\n", "\(result)")
                #expect(try await lease.holders() == ["owner"])

                result = try await lease.release("owner")
                #expect(result.status == 0)
                #expect(result.standardOutput == "released startup lease of owner for \(lease.label)\n", "\(result)")
                #expect(try await lease.holders().isEmpty)
                result = try await lease.release("owner")
                #expect(result.standardOutput == "owner held no startup lease for \(lease.label)\n", "\(result)")
            }
        }
    }

    @Test func aReleaseWakesOneWaiterOnly() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                try await lease.acquireNow("h")
                var waiters: [MonitorProcess] = []
                for index in 0..<5 {
                    waiters.append(try await lease.startQueued("w-\(index)"))
                }
                // Everyone has reported its place before the release, so the counts below start at 0.
                for (index, waiter) in waiters.enumerated() {
                    try await eventually("w-\(index) to report its position") {
                        waiter.log.contains("SERVICE_MONITOR_QUEUE_POSITION=\(index)")
                    }
                    #expect(waiter.lines(containing: "SERVICE_MONITOR_WAKE=").isEmpty, "\(waiter.log)")
                }
                #expect(try await lease.release("h").status == 0)
                #expect(try await waiters[0].waitForExit(timeout: .seconds(10)) == 0)
                // w-1 is woken by w-0 leaving the queue.
                try await eventually("w-1 to be woken") { !waiters[1].lines(containing: "SERVICE_MONITOR_WAKE=").isEmpty }
                // Give any (wrongly) woken waiter the same time to have said so.
                try await Task.sleep(for: .milliseconds(500))
                let wakes = waiters.map { $0.lines(containing: "SERVICE_MONITOR_WAKE=").count }
                // The release woke w-0 alone; its promotion woke w-1 alone; w-2…w-4 slept on.
                #expect(wakes == [1, 1, 0, 0, 0], "\(waiters.map(\.log))")
                #expect(waiters[0].lines(containing: "SERVICE_MONITOR_WAKE=\"a holder left\"").count == 1)
                #expect(waiters[1].lines(containing: "SERVICE_MONITOR_WAKE=\"w-0 left the queue ahead\"").count == 1)
                try await eventually("w-1 to report it is first in line") {
                    waiters[1].lines(containing: "SERVICE_MONITOR_QUEUE_POSITION=0").count == 1
                }
                #expect(waiters[1...].allSatisfy { $0.isRunning })
                // With one slot, the first in line is granted its holder lease while it waits: w-0
                // holds by the one it had, and w-1, first in line now, has one bound to nothing.
                // None is left behind. Every other lease is a queue entry's, of 9 s.
                let held = try #require(try await client.range(.key(lease.holderKey("w-0"))).kvs.first)
                let longLived = try await eventually("w-1's lease for its slot") { () async throws -> [Int64]? in
                    let leaseIDs = try await cluster.etcdctl(["lease", "list"])
                        .split(separator: "\n").dropFirst().compactMap { Int64($0, radix: 16) }
                    var longLived: [Int64] = []
                    for id in leaseIDs where try await client.leaseTimeToLive(id).ttl > 9 {
                        longLived.append(id)
                    }
                    return longLived.count == 2 ? longLived : nil
                }
                #expect(longLived.contains(held.lease), "leases: \(longLived)")
                let ahead = try #require(longLived.first { $0 != held.lease })
                #expect(try await client.leaseTimeToLive(ahead, keys: true).keys.isEmpty)
            }
        }
    }

    @Test func watchReleasesTheLeaseAtTheFirstUp() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                let service = try await StandIn()
                try service.set(status: 503)
                try await lease.acquireNow("es-1")
                let next = try await lease.startQueued("es-2")
                let monitor = try MonitorProcess([
                    "watch", "--endpoints", cluster.clientURLs[0], "--label", lease.label, "--service-id", "es-1",
                    "--monitor-url", service.url, "--interval", "300ms", "--timeout", "200ms", "--host-ip", "127.0.0.21",
                    "--log-target", "console",
                ])
                let instance = "/service-monitor/\(lease.label)/instances/es-1"
                _ = try await client.waitForRecord(instance, "down") { $0?.state == "down" }
                // Down is not healthy: the lease stays.
                #expect(try await lease.holders() == ["es-1"])
                #expect(next.isRunning)

                try service.set(status: 200)
                _ = try await client.waitForRecord(instance, "up") { $0?.state == "up" }
                #expect(try await next.waitForExit(timeout: .seconds(10), "es-2 to acquire once es-1 is up") == 0)
                #expect(try await lease.holders() == ["es-2"])
                try await eventually("the release to be logged") {
                    monitor.log.contains("MESSAGE_ID=101c1c02779f4123b7424083dedfd4d9")
                }
                #expect(try await monitor.terminate() == 0, "\(monitor.log)")
            }
        }
    }

    @Test func watchWithNoReleaseLeaseKeepsIt() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let lease = StartupLeaseFixture(cluster, client)
                let service = try await StandIn()
                try await lease.acquireNow("es-1")
                let monitor = try MonitorProcess([
                    "watch", "--endpoints", cluster.clientURLs[0], "--label", lease.label, "--service-id", "es-1",
                    "--monitor-url", service.url, "--interval", "300ms", "--timeout", "200ms", "--host-ip", "127.0.0.22",
                    "--log-target", "console", "--no-release-lease",
                ])
                _ = try await client.waitForRecord("/service-monitor/\(lease.label)/instances/es-1", "up") { $0?.state == "up" }
                // Three more healthy checks later: still held.
                let served = service.served.count
                try await eventually("three more checks") { service.served.count >= served + 3 }
                #expect(try await lease.holders() == ["es-1"])
                #expect(!monitor.log.contains("MESSAGE_ID=101c1c02779f4123b7424083dedfd4d9"), "\(monitor.log)")
                #expect(try await monitor.terminate() == 0)
            }
        }
    }
}
