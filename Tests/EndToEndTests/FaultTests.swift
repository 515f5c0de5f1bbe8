import Etcd
import Foundation
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Faults on a real three-member etcd cluster, with real `service-monitor` processes given all
/// three endpoints: the leader killed, every member down for 30 s, processes killed with
/// SIGKILL, a monitor frozen under systemd's watchdog.
///
/// Covered elsewhere on a single member and not repeated here: the outage's effect on the
/// record's state (WatchTests.keepsCheckingWhileEtcdIsDownAndRegistersAgainWhenItReturns), a
/// frozen monitor failing by the watchdog without `Restart=` (WatchUnitTests), a holder that
/// never releases and a killed waiter (StartupLeaseTests).
@Suite("faults on a three-member cluster", .timeLimit(.minutes(4)))
struct FaultTests {
    @Test func killingTheLeaderLosesNoRegistrationNoHostsChangeAndNoPlaceInTheQueue() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let leader = try await cluster.leader()
                let follower = (leader + 1) % cluster.members.count
                let label = uniqueLabel("leader")
                let instances = "/service-monitor/\(label)/instances/"

                // Five watchers: three use the leader first (their connections drop with it), two a
                // follower (which loses its leader). Started one by one: registration order is known.
                let services = try await StandIn.several(5)
                var watchers: [MonitorProcess] = []
                for index in 0..<5 {
                    watchers.append(try MonitorProcess([
                        "watch", "--endpoints", cluster.endpoints(startingAt: index < 3 ? leader : follower),
                        "--label", label, "--service-id", "i-\(index)", "--monitor-url", services[index].url,
                        "--interval", "1s", "--timeout", "500ms", "--ttl", "5s", "--host-ip", "127.0.0.8\(index)",
                        "--log-target", "console",
                    ]))
                    _ = try await client.waitForRecord(instances + "i-\(index)", "up") { $0?.state == "up" }
                }
                let leases = try await Dictionary(uniqueKeysWithValues: client.range(.prefix(instances)).kvs.map { ($0.keyString, $0.lease) })
                let allHosts = (0..<5).map { "127.0.0.8\($0)" }

                let follow = try HostsFollower(endpoints: cluster.endpoints(startingAt: leader), label: label)
                var expected = [allHosts.joined(separator: ",")]
                try await follow.expectLines(expected)

                // A holder and five waiters, all on the leader first.
                let lease = StartupLeaseFixture(cluster, client, label: label, endpoints: cluster.endpoints(startingAt: leader))
                try await lease.acquireNow("h")
                var waiters: [MonitorProcess] = []
                for index in 0..<5 {
                    waiters.append(try await lease.startQueued("w-\(index)"))
                }
                let queued = try await client.range(.prefix(lease.queuePrefix)).kvs.sorted { $0.createRevision < $1.createRevision }
                #expect(queued.map(\.keyString) == (0..<5).map { lease.queueKey("w-\($0)") })

                try await withChanges(under: instances, client) { changes in
                    try await lease.withHolderHistory { holders in
                        await cluster.kill(member: leader)
                        let killed = ContinuousClock.now

                        // Changes made at once, while every process is failing over.
                        try services[1].set(status: 503)
                        expected.append(allHosts.filter { $0 != "127.0.0.81" }.joined(separator: ","))
                        #expect(try await lease.release("h").status == 0)
                        try await follow.expectLines(expected)
                        #expect(try await waiters[0].waitForExit(timeout: .seconds(15), "w-0 to acquire after the kill") == 0, "\(waiters[0].log)")
                        try services[1].set(status: 200)
                        expected.append(allHosts.joined(separator: ","))
                        try await follow.expectLines(expected)
                        #expect(try await cluster.leader() != leader)

                        // Past every TTL involved since the kill (watchers 5 s, queue entries 10 s):
                        // only keep-alives that moved to another member can have kept them.
                        try await Task.sleep(until: killed + .seconds(12), clock: .continuous)
                        let events = changes.all
                        // The test's own watch lived through the kill: it saw i-1 go down and up.
                        #expect(events.filter { $0.key == instances + "i-1" }.count == 2, "\(events)")
                        #expect(!events.contains { !$0.isPut }, "a registration disappeared: \(events)")
                        #expect(events.allSatisfy { leases[$0.key] == $0.lease }, "a watcher registered anew: \(events)")
                        for (key, id) in leases {
                            #expect(try await client.range(.key(key)).kvs.first?.lease == id, "\(key)")
                            #expect(try await client.leaseTimeToLive(id).ttl > 0, "\(key)")
                        }
                        for watcher in watchers {
                            #expect(watcher.isRunning)
                            #expect(!watcher.log.contains("MESSAGE_ID=7fa01b2c3d4e4f5a9b8c7d6e5f4a3b2c"), "lost etcd: \(watcher.log)")
                        }
                        let stillQueued = try await client.range(.prefix(lease.queuePrefix)).kvs.sorted { $0.createRevision < $1.createRevision }
                        #expect(stillQueued.map(\.keyString) == queued.dropFirst().map(\.keyString))
                        #expect(stillQueued.map(\.lease) == queued.dropFirst().map(\.lease), "a waiter queued anew")

                        // FIFO: each waiter in turn, only after the one before it released.
                        for index in 1..<5 {
                            #expect(try await lease.holders() == ["w-\(index - 1)"])
                            #expect(waiters[index...].allSatisfy { $0.isRunning }, "a waiter finished before its turn")
                            #expect(try await lease.release("w-\(index - 1)").status == 0)
                            #expect(try await waiters[index].waitForExit(timeout: .seconds(10), "w-\(index) to acquire") == 0, "\(waiters[index].log)")
                        }
                        #expect(try await lease.release("w-4").status == 0)
                        try await holders.waitFor(count: 11)
                        #expect(holders.all.map(\.description) == ["-h"] + (0..<5).flatMap { ["+w-\($0)", "-w-\($0)"] })
                    }
                }

                // A watcher stopped after the fail-over: the follower, now on another member, sees it.
                #expect(try await watchers[4].terminate() == 0)
                expected.append(allHosts.dropLast().joined(separator: ","))
                try await follow.expectLines(expected)
                #expect(try await follow.stop() == 0)
                #expect(follow.lines == expected)
                for watcher in watchers.dropLast() { #expect(try await watcher.terminate() == 0) }
            }
        }
    }

    @Test(.shares(.userManager)) func everyMemberDownFor30SecondsDegradesWatchFailsHostsAndWatchRegistersWithinAnIntervalOfTheReturn() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            let service = try await StandIn()
            let label = uniqueLabel("outage")
            let key = "/service-monitor/\(label)/instances/o-1"
            let unit = "sm-outage-\(label).service"
            try await UserManager.removing(unit) {
                let interval = Duration.seconds(3)
                // Under systemd with a watchdog: STATUS= is read back from the manager, the log from
                // the journal, and the watchdog must not fire while only etcd is gone.
                let started = try await UserManager.run(
                    unit: unit,
                    properties: ["Type=notify", "WatchdogSec=4", "NotifyAccess=main", "TimeoutAbortSec=3s"],
                    command: [
                        try BuildProducts.executable(named: "service-monitor"), "watch", "--endpoints", cluster.clientURLs.joined(separator: ","),
                        "--label", label, "--service-id", "o-1", "--monitor-url", service.url,
                        "--interval", "\(interval.components.seconds)s", "--timeout", "500ms", "--ttl", "5s", "--host-ip", "127.0.0.91",
                    ]
                )
                #expect(started.status == 0, "\(started)")
                let mainPID = try #require(try await UserManager.properties(of: unit, ["MainPID"])["MainPID"])
                let registered = try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                    try #require(try await client.waitForRecord(key, "up") { $0?.state == "up" })
                }

                for index in cluster.members.indices { await cluster.kill(member: index) }
                let stopped = ContinuousClock.now

                // watch: degraded in STATUS= and the journal, still running, checks going on.
                let degraded = try await eventually("StatusText to report etcd unreachable", timeout: .seconds(15)) {
                    let text = try await UserManager.properties(of: unit, ["StatusText"])["StatusText"] ?? ""
                    return text.contains("etcd unreachable since ") ? text : nil
                }
                #expect(degraded.hasPrefix("up · HTTP 200 in "), "\(degraded)")
                let lost = try await Journal.waitForEntries(matching: ["SERVICE_MONITOR_LABEL=\(label)", "MESSAGE_ID=7fa01b2c3d4e4f5a9b8c7d6e5f4a3b2c"])
                #expect(lost.count == 1)
                #expect(lost.first?["PRIORITY"] == "4")

                // hosts: exit 69 with one line, once its --command-timeout has passed.
                let asked = ContinuousClock.now
                let hosts = try await Command.run(
                    try BuildProducts.executable(named: "service-monitor"),
                    ["hosts", "--endpoints", cluster.clientURLs.joined(separator: ","), "--label", label, "--command-timeout", "2s"],
                    environment: ["JOURNAL_STREAM": nil]
                )
                let answeredAfter = ContinuousClock.now - asked
                #expect(hosts.status == 69, "\(hosts)")
                #expect(hosts.standardOutput.isEmpty)
                let lines = hosts.standardError.split(separator: "\n")
                #expect(lines.count == 1, "\(hosts)")
                #expect(lines.first?.hasPrefix("service-monitor: etcd: unavailable: ") == true, "\(hosts)")
                #expect(answeredAfter < .seconds(5), "hosts took \(answeredAfter)")
                print("hosts during the outage (after \(answeredAfter)): \(hosts.standardError)", terminator: "")

                let checks = service.served.count
                try await Task.sleep(until: stopped + .seconds(30), clock: .continuous)
                #expect(service.served.count >= checks + 5, "checks stopped during the outage")

                try await cluster.restart(members: Array(cluster.members.indices))
                let returned = ContinuousClock.now
                try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                    let again = try #require(try await client.waitForRecord(key, "registered anew") { record in
                        record.map { $0.lease != registered.lease && $0.state == "up" } ?? false
                    })
                    let took = ContinuousClock.now - returned
                    print("re-registered \(took) after every member answered again")
                    #expect(took <= interval, "re-registered \(took) after etcd returned; --interval is \(interval)")

                    // Back to normal: a transition is written on that same lease (nothing registers
                    // again and again), and STATUS= says registered.
                    try service.set(status: 503)
                    let down = try #require(try await client.waitForRecord(key, "down after the outage") { $0?.state == "down" })
                    #expect(down.lease == again.lease, "registered anew instead of writing the transition")
                    #expect(try await client.leaseTimeToLive(again.lease).ttl > 0)
                }
                var status = ""
                _ = try await eventually("StatusText to say down and registered (it says \(status))") {
                    status = try await UserManager.properties(of: unit, ["StatusText"])["StatusText"] ?? ""
                    return status.hasPrefix("down · ") && status.contains("registered 127.0.0.91") ? status : nil
                }
                // One warning for the outage, one notice for the return.
                let restored = try await Journal.waitForEntries(matching: ["SERVICE_MONITOR_LABEL=\(label)", "MESSAGE_ID=80b12c3d4e5f4a6b8c9d0e1f2a3b4c5d"])
                #expect(restored.count == 1, "registered anew \(restored.count) times")
                #expect(try await Journal.entries(matching: ["SERVICE_MONITOR_LABEL=\(label)", "MESSAGE_ID=7fa01b2c3d4e4f5a9b8c7d6e5f4a3b2c"]).count == 1)
                // The same process all along: neither the outage nor the watchdog ended it.
                let after = try await UserManager.properties(of: unit, ["ActiveState", "MainPID", "NRestarts"])
                #expect(after["ActiveState"] == "active")
                #expect(after["MainPID"] == mainPID)
                #expect(after["NRestarts"] == "0")
            }
        }
    }

    @Test func killedProcessesStopBlockingWithinTheirTimeouts() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let endpoints = cluster.clientURLs.joined(separator: ",")
                let lease = StartupLeaseFixture(cluster, client, endpoints: endpoints)
                let instances = "/service-monitor/\(lease.label)/instances/"
                // A watcher of a healthy service, on a 3 s TTL.
                let healthy = try await StandIn()
                let watcher = try MonitorProcess([
                    "watch", "--endpoints", endpoints, "--label", lease.label, "--service-id", "k-1", "--monitor-url", healthy.url,
                    "--interval", "1s", "--timeout", "500ms", "--ttl", "3s", "--host-ip", "127.0.0.92",
                ])
                _ = try await client.waitForRecord(instances + "k-1", "up") { $0?.state == "up" }

                // The holder of the startup lease, whose service never gets healthy, so its watch
                // never releases; then a waiter killed while queued, and two waiters that must get past both.
                let sick = try await StandIn()
                try sick.set(status: 503)
                let leaseTimeout = Duration.seconds(6)
                let holderAcquired = ContinuousClock.now
                try await lease.acquireNow("holder", ["--lease-timeout", "6s"])
                let holderWatch = try MonitorProcess([
                    "watch", "--endpoints", endpoints, "--label", lease.label, "--service-id", "holder", "--monitor-url", sick.url,
                    "--interval", "1s", "--timeout", "500ms", "--ttl", "3s", "--host-ip", "127.0.0.93",
                ])
                _ = try await client.waitForRecord(instances + "holder", "down") { $0?.state == "down" }
                let next = try await lease.startQueued("next")
                let doomed = try await lease.startQueued("doomed")
                let behind = try await lease.startQueued("behind")

                await watcher.kill9()
                await holderWatch.kill9()
                await doomed.kill9()
                let killed = ContinuousClock.now

                // The watcher's record is gone within its TTL (etcd checks expiry every 500 ms).
                _ = try await client.waitForRecord(instances + "k-1", timeout: .seconds(10), "gone") { $0 == nil }
                let recordGone = ContinuousClock.now - killed
                #expect(recordGone <= .seconds(3) + .milliseconds(1500), "the record lingered \(recordGone) after kill -9")

                // The next waiter gets in when the holder's --lease-timeout runs out, not before.
                #expect(try await next.waitForExit(timeout: .seconds(15), "next to acquire at the holder's lease timeout") == 0, "\(next.log)")
                let holderBlocked = ContinuousClock.now - holderAcquired
                #expect(holderBlocked >= leaseTimeout - .milliseconds(200) && holderBlocked < leaseTimeout + .seconds(3), "blocked \(holderBlocked)")

                // The killed waiter's entry expires within its 10 s queue TTL; the one behind moves up.
                #expect(try await lease.release("next").status == 0)
                #expect(try await behind.waitForExit(timeout: .seconds(15), "behind to get past the killed waiter") == 0, "\(behind.log)")
                let queueMoved = ContinuousClock.now - killed
                #expect(queueMoved < .seconds(13), "the queue moved \(queueMoved) after the kill")
                #expect(try await lease.holders() == ["behind"])
                #expect(try await lease.queue().isEmpty)
                print("kill -9: record gone after \(recordGone); holder blocked \(holderBlocked) (lease timeout \(leaseTimeout)); queue moved \(queueMoved) after the waiter's kill")
            }
        }
    }

    @Test(.shares(.userManager)) func aFrozenMonitorIsRestartedBySystemdAndRegistersAnewBeforeItsRecordExpires() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let service = try await StandIn()
                let label = uniqueLabel("frozen")
                let key = "/service-monitor/\(label)/instances/f-1"
                let unit = "sm-frozen-\(label).service"
                try await UserManager.removing(unit) {
                    // Watchdog (2 s) + abort (2 s) + restart (1 s) + start-up fit well inside the TTL (12 s).
                    let started = try await UserManager.run(
                        unit: unit,
                        properties: ["Type=notify", "NotifyAccess=main", "WatchdogSec=2", "TimeoutAbortSec=2s", "Restart=on-watchdog", "RestartSec=1"],
                        command: [
                            try BuildProducts.executable(named: "service-monitor"), "watch", "--endpoints", cluster.clientURLs.joined(separator: ","),
                            "--label", label, "--service-id", "f-1", "--monitor-url", service.url,
                            "--interval", "500ms", "--timeout", "300ms", "--ttl", "12s", "--host-ip", "127.0.0.94",
                        ]
                    )
                    #expect(started.status == 0, "\(started)")
                    let first = try #require(try await client.waitForRecord(key, "up") { $0?.state == "up" })
                    let frozenPID = try #require(try await UserManager.properties(of: unit, ["MainPID"])["MainPID"].flatMap { pid_t($0) })

                    try await withChanges(under: key, client) { changes in
                        #expect(kill(frozenPID, SIGSTOP) == 0)
                        let frozen = ContinuousClock.now
                        let restarted = try await eventually("systemd to restart the frozen monitor", timeout: .seconds(30)) {
                            let properties = try await UserManager.properties(of: unit, ["ActiveState", "MainPID", "NRestarts"])
                            let pid = properties["MainPID"].flatMap { pid_t($0) } ?? 0
                            return properties["ActiveState"] == "active" && pid != 0 && pid != frozenPID ? properties : nil
                        }
                        // Restart=on-watchdog: a restart at all means the watchdog ended it.
                        #expect(restarted["NRestarts"] == "1")
                        #expect(kill(frozenPID, 0) == -1 && errno == ESRCH, "the frozen process is still there")
                        let second = try #require(try await client.waitForRecord(key, "registered by the new process") { record in
                            record.map { $0.lease != first.lease && $0.state == "up" } ?? false
                        })
                        print("frozen monitor replaced and registered anew \(ContinuousClock.now - frozen) after SIGSTOP")
                        // The old lease runs out with nothing left on it: the record never vanished.
                        try await eventually("the frozen process's lease to expire", timeout: .seconds(20)) {
                            try await client.leaseTimeToLive(first.lease).ttl == -1
                        }
                        #expect(try await client.range(.key(key)).kvs.first?.lease == second.lease)
                        #expect(!changes.all.contains { !$0.isPut }, "the record vanished: \(changes.all)")
                    }
                }
            }
        }
    }
}

extension EtcdCluster {
    /// Every member's client URL for `--endpoints`, member `first` first (where a process starts).
    func endpoints(startingAt first: Int) -> String {
        let urls = clientURLs
        return (urls[first...] + urls[..<first]).joined(separator: ",")
    }
}

/// A `hosts --watch` process; its standard output kept in a file, one line per change.
final class HostsFollower: @unchecked Sendable {
    let process: ChildProcess
    let output: String

    /// `network`: runs inside `host` of that test network instead of this process's namespace.
    init(endpoints: String, label: String, network: TestNetwork? = nil, host: TestNetwork.Host? = nil) throws {
        output = try EtcdTestPaths.makeTemporaryDirectory(prefix: "hosts-watch") + "/out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let executable = try BuildProducts.executable(named: "service-monitor")
        let arguments = ["hosts", "--endpoints", endpoints, "--label", label, "--watch"]
        let standardOutput = FileHandle(forWritingAtPath: output)
        if let network, let host {
            process = try network.start(in: host, executable, arguments, environment: ["JOURNAL_STREAM": nil], standardOutput: standardOutput)
        } else {
            process = try Command.start(executable, arguments, environment: ["JOURNAL_STREAM": nil], standardOutput: standardOutput)
        }
    }

    /// Complete lines printed so far.
    var lines: [String] {
        ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    /// Waits for as many lines as `expected` has, then expects exactly those.
    func expectLines(_ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await eventually("hosts --watch to print \(expected.last ?? "") (printed \(lines))") { lines.count >= expected.count }
        #expect(lines == expected, sourceLocation: sourceLocation)
    }

    /// SIGINT and wait; returns the exit status.
    func stop() async throws -> Int32 {
        process.send(SIGINT)
        return try await process.waitForExit(timeout: .seconds(10), "hosts --watch to exit on SIGINT")
    }

    deinit {
        process.terminate()
    }
}

/// Every put and delete under a prefix, as an etcd watch in the test delivered them.
final class KeyChanges: Sendable {
    struct Change: Sendable, CustomStringConvertible {
        var isPut: Bool
        var key: String
        var lease: Int64
        var description: String { (isPut ? "put " : "delete ") + key + (isPut ? " (lease \(lease))" : "") }
    }

    private let changes = Mutex<[Change]>([])

    func record(_ events: [WatchEvent]) {
        changes.withLock { $0 += events.map { Change(isPut: $0.kind == .put, key: $0.kv.keyString, lease: $0.kv.lease) } }
    }

    var all: [Change] { changes.withLock { $0 } }
}

/// Runs `body` while recording every change under `prefix` from now on.
func withChanges<T: Sendable>(under prefix: String, _ client: EtcdClient, _ body: (KeyChanges) async throws -> T) async throws -> T {
    let changes = KeyChanges()
    let start = try await client.currentRevision()
    return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
        group.addTask {
            try await client.watch(.prefix(prefix), options: WatchOptions(startRevision: start + 1)) { batches in
                for try await batch in batches { changes.record(batch.events) }
            }
        }
        defer { group.cancelAll() }
        return try await body(changes)
    }
}
