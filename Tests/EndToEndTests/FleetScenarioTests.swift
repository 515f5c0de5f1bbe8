import Etcd
import Foundation
import Synchronization
import Testing
import TestSupport

/// The fleet example end to end, the way its users run it: the shipped
/// `units/examples/elasticsearch` units (copied by `scripts/fleet-units.sh`, which swaps only the
/// Elasticsearch program for the stand-in, the binary path, the environment files and the check
/// interval) under the private systemd user manager, with a real etcd and the real journald.
@Suite("fleet scenario under systemd", .needsAlone(.userManager), .timeLimit(.minutes(3)))
struct FleetScenarioTests {
    @Test func threeInstancesStartOneAtATimeDiscoverEachOtherAndLeaveAsTheyShould() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let fleet = try await Fleet(endpoints: cluster.clientURLs[0])
            try await tearingDown(fleet.tearDown) {
                try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                    try await scenario(fleet, client)
                }
            }
        }
    }

    private func scenario(_ fleet: Fleet, _ client: EtcdClient) async throws {
        let history = PrefixHistory(prefix: fleet.prefix)
        let cursor = try await Journal.cursor()
        let startRevision = try await client.currentRevision()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await history.record(client, from: startRevision + 1) }
            defer { group.cancelAll() }

            // All three at the same moment: one start job each, queued in one call.
            let start = try await UserManager.systemctl(["start", "--no-block"] + Fleet.instances.map { fleet.main($0) })
            try #require(start.status == 0, "\(start)")

            for instance in Fleet.instances {
                _ = try await client.waitForRecord(fleet.instanceKey(instance), timeout: .seconds(60), "up") { $0?.state == "up" }
            }
            // The last one up releases the lease: it ends with no holder and nobody queued.
            try await eventually("the startup lease to be free (history: \(history.events))", timeout: .seconds(20)) {
                guard history.holderChanges.filter({ !$0.isPut }).count == 3 else { return false }
                let holders = try await client.range(.prefix(fleet.prefix + "/elasticsearch/startup/holders/"))
                let queue = try await client.range(.prefix(fleet.prefix + "/elasticsearch/startup/queue/"))
                return holders.kvs.isEmpty && queue.kvs.isEmpty
            }
            try await checkOneAtATime(fleet, history, cursor)
            try await checkDiscoveryAndStatus(fleet, history, cursor)
            try await checkStoppingInstance2(fleet, client, cursor)
            try await checkInstance3GoingDown(fleet, client)
        }
    }

    /// The main services started strictly one at a time, each only once the one before it was up.
    private func checkOneAtATime(_ fleet: Fleet, _ history: PrefixHistory, _ cursor: String) async throws {
        // etcd: the holders, in the order they took the lease, never two at once.
        let holds = history.holderChanges
        #expect(history.mostHoldersAtOnce == 1, "\(holds)")
        let order = holds.filter(\.isPut).map(\.serviceID)
        try #require(Set(order) == Set(Fleet.instances.map(Fleet.serviceID)) && order.count == 3, "holders: \(holds)")
        for (position, id) in order.enumerated() {
            let acquired = try #require(history.first { $0.isHolder && $0.isPut && $0.serviceID == id })
            let registered = try #require(history.first { $0.isInstance && $0.isPut && $0.serviceID == id })
            // Its monitor comes with the main service, which comes after the lease.
            #expect(registered.revision > acquired.revision, "\(id): registered before it held the lease")
            guard position > 0 else { continue }
            let previous = order[position - 1]
            let previousUp = try #require(history.first { $0.isInstance && $0.serviceID == previous && $0.state == "up" })
            let previousReleased = try #require(history.first { $0.isHolder && !$0.isPut && $0.serviceID == previous })
            #expect(acquired.revision > previousUp.revision, "\(id) took the lease before \(previous) was up")
            #expect(acquired.revision > previousReleased.revision, "\(id) took the lease while \(previous) held it")
        }

        // systemd: each main service was started after its lease unit had finished (the shipped
        // Requires=/After=), and in the order of the lease.
        var mainStarts: [Int64] = []
        for id in order {
            let instance = Fleet.instance(of: id)
            let main = try await UserManager.properties(of: fleet.main(instance), ["ExecMainStartTimestampMonotonic"])
            let lease = try await UserManager.properties(of: fleet.lease(instance), ["ExecMainExitTimestampMonotonic", "Result"])
            let started = try #require(Int64(main["ExecMainStartTimestampMonotonic"] ?? ""), "\(main)")
            let leaseDone = try #require(Int64(lease["ExecMainExitTimestampMonotonic"] ?? ""), "\(lease)")
            #expect(lease["Result"] == "success")
            #expect(started >= leaseDone, "\(fleet.main(instance)) started before its lease unit finished")
            mainStarts.append(started)
        }
        #expect(mainStarts == mainStarts.sorted(), "main services did not start in lease order: \(mainStarts)")

        // The journal (one socket, so one order): each instance's lease was acquired after the one
        // before it logged its up transition, which then released the lease.
        for (position, id) in order.enumerated() where position > 0 {
            let previous = order[position - 1]
            let up = try await fleet.journal(cursor, ["MESSAGE_ID=\(MessageIDs.up)", "SERVICE_MONITOR_SERVICE_ID=\(previous)"])
            let released = try await fleet.journal(cursor, ["MESSAGE_ID=\(MessageIDs.leaseReleased)", "SERVICE_MONITOR_SERVICE_ID=\(previous)"])
            let acquired = try await fleet.journal(cursor, ["MESSAGE_ID=\(MessageIDs.leaseAcquired)", "SERVICE_MONITOR_SERVICE_ID=\(id)"])
            try #require(!up.isEmpty && released.count == 1 && acquired.count == 1, "up \(up), released \(released), acquired \(acquired)")
            // (The release and the next acquisition race to the journal: only these two orders hold.)
            let firstUp = up.map(monotonic).min()!
            #expect(firstUp < monotonic(released[0]), "\(previous) released before it was up")
            #expect(firstUp < monotonic(acquired[0]), "\(id) acquired before \(previous) was up")
        }

        // Each was handed the ones before it: the first an empty list, then one, then two. (The
        // three were started at once, so which instance goes first is whichever queued first.)
        for (position, id) in order.enumerated() {
            let handed = try String(contentsOfFile: fleet.state + "/unicast-hosts-\(Fleet.instance(of: id))", encoding: .utf8)
            let expected = order[..<position].map { Fleet.address(Fleet.instance(of: $0)) + ":9300" }.joined(separator: ",")
            #expect(handed == expected + "\n", "\(id) (#\(position + 1) to start) was handed \(handed.debugDescription)")
        }
    }

    /// `hosts`, `status` and the journal agree: three up, nothing waiting.
    private func checkDiscoveryAndStatus(_ fleet: Fleet, _ history: PrefixHistory, _ cursor: String) async throws {
        let order = history.holderChanges.filter(\.isPut).map(\.serviceID)
        let expectedHosts = order.map { Fleet.address(Fleet.instance(of: $0)) }.joined(separator: ",") + "\n"
        // (Polled briefly: on a machine busy with the other suites a check may time out and flap.)
        let hosts = try await fleet.settled(["hosts", "--label", "elasticsearch"]) { $0.standardOutput == expectedHosts }
        #expect(hosts.status == 0, "\(hosts)")
        #expect(hosts.standardOutput == expectedHosts, "\(hosts)")

        let status = try await fleet.settled(["status", "--label", "elasticsearch", "--json"]) {
            $0.standardOutput.components(separatedBy: "\"state\":\"up\"").count == 4
        }
        #expect(status.status == 0, "\(status)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(status.standardOutput.utf8)) as? [String: Any], "\(status)")
        let labels = try #require(report["labels"] as? [[String: Any]], "\(status)")
        try #require(labels.count == 1, "\(status)")
        #expect(labels[0]["label"] as? String == "elasticsearch")
        let instances = try #require(labels[0]["instances"] as? [[String: Any]], "\(status)")
        #expect(instances.compactMap { $0["service_id"] as? String } == order, "\(status)")
        #expect(instances.allSatisfy { $0["state"] as? String == "up" }, "\(status)")
        let startup = try #require(labels[0]["startup"] as? [String: Any], "\(status)")
        #expect((startup["queue"] as? [Any])?.isEmpty == true, "\(status)")
        #expect((startup["holders"] as? [Any])?.isEmpty == true, "\(status)")

        // `journalctl SERVICE_MONITOR_LABEL=elasticsearch`: each instance's up transition, from
        // its monitor unit, with the instance-up MESSAGE_ID.
        let ups = try await fleet.journal(cursor, ["SERVICE_MONITOR_STATE=up"])
        #expect(Set(ups.compactMap { $0["SERVICE_MONITOR_SERVICE_ID"] }) == Set(Fleet.instances.map(Fleet.serviceID)), "\(ups)")
        for instance in Fleet.instances {
            let entry = try #require(ups.first { $0["SERVICE_MONITOR_SERVICE_ID"] == Fleet.serviceID(instance) }, "\(ups)")
            #expect(entry["MESSAGE_ID"] == MessageIDs.up)
            #expect(entry["PRIORITY"] == "5")
            #expect(entry["SERVICE_MONITOR_HOST"] == Fleet.address(instance))
            #expect(entry["SERVICE_MONITOR_HTTP_STATUS"] == "200")
            #expect(entry["_SYSTEMD_UNIT"] == fleet.monitor(instance) || entry["_SYSTEMD_USER_UNIT"] == fleet.monitor(instance), "\(entry)")
        }
    }

    /// Stopping instance 2's main unit stops its monitor (BindsTo=), which deregisters at once.
    private func checkStoppingInstance2(_ fleet: Fleet, _ client: EtcdClient, _ cursor: String) async throws {
        let stop = try await UserManager.systemctl(["stop", fleet.main(2)])
        #expect(stop.status == 0, "\(stop)")
        // By the time the stop job is done the record is gone: the monitor (ordered after the main
        // unit, so stopped before it) revoked its lease on the way out — no TTL to wait for.
        #expect(try await client.range(.key(fleet.instanceKey(2))).kvs.isEmpty, "elasticsearch-2 still registered after its unit stopped")
        let monitor = try await UserManager.properties(of: fleet.monitor(2), ["ActiveState"])
        #expect(monitor["ActiveState"] == "inactive", "\(monitor)")
        let deregistered = try await fleet.journal(cursor, ["MESSAGE_ID=\(MessageIDs.deregistered)", "SERVICE_MONITOR_SERVICE_ID=elasticsearch-2"])
        #expect(deregistered.count == 1, "\(deregistered)")
        for instance in [1, 3] {
            let others = try await UserManager.properties(of: fleet.monitor(instance), ["ActiveState"])
            #expect(others["ActiveState"] == "active", "\(fleet.monitor(instance)): \(others)")
        }
    }

    /// Instance 3 answering 503: down in etcd within one check interval, out of `hosts`, while its
    /// monitor unit stays active and says why.
    private func checkInstance3GoingDown(_ fleet: Fleet, _ client: EtcdClient) async throws {
        // (Its first check may have met the stand-in's 503s of its first 2 s: count from here.)
        let beforeFault = try await Journal.cursor()
        let since = ContinuousClock.now
        try "503\n".write(toFile: fleet.state + "/status-3", atomically: true, encoding: .utf8)
        let down = try await client.waitForRecord(fleet.instanceKey(3), timeout: .seconds(10), "down with HTTP 503") {
            $0?.state == "down" && $0?.detail?.hasPrefix("HTTP 503") == true
        }
        let took = ContinuousClock.now - since
        // The next check (at most one 1 s interval away, bounded by 800 ms) flips it (fall 1);
        // the bound leaves room for a machine busy with the other suites.
        #expect(took < .milliseconds(3_000), "took \(took) to go down")
        let served = ((try? String(contentsOfFile: fleet.state + "/requests-3", encoding: .utf8)) ?? "").split(separator: "\n")
        #expect(served.last == "503", "instance 3 served \(served)")
        print("fleet scenario: elasticsearch-3 was down in etcd \(took) after its service began answering 503")
        #expect(down?.detail?.hasPrefix("HTTP 503") == true, "\(String(describing: down?.json))")

        let hosts = try await fleet.settled(["hosts", "--label", "elasticsearch"]) { $0.standardOutput == Fleet.address(1) + "\n" }
        #expect(hosts.status == 0 && hosts.standardOutput == Fleet.address(1) + "\n", "\(hosts)")

        // STATUS= is sent after each check: the one that saw 503 at the latest.
        var monitor: [String: String] = [:]
        for _ in 0..<20 {
            monitor = try await UserManager.properties(of: fleet.monitor(3), ["ActiveState", "StatusText"])
            if monitor["StatusText"]?.hasPrefix("down · HTTP 503 in ") == true { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(monitor["ActiveState"] == "active", "\(monitor)")
        #expect(monitor["StatusText"]?.hasPrefix("down · HTTP 503 in ") == true, "\(monitor)")
        #expect(monitor["StatusText"]?.contains("registered 127.0.0.13") == true, "\(monitor)")
        let downs = try await fleet.journal(beforeFault, ["MESSAGE_ID=\(MessageIDs.down)", "SERVICE_MONITOR_SERVICE_ID=elasticsearch-3", "SERVICE_MONITOR_HTTP_STATUS=503"])
        #expect(downs.count == 1, "\(downs)")
    }

    private func monotonic(_ entry: Journal.Entry) -> UInt64 {
        UInt64(entry["__MONOTONIC_TIMESTAMP"] ?? "") ?? 0
    }
}

enum MessageIDs {
    static let up = "3c7a4f1e9b2d4e0f8a6b5c4d3e2f1a0b"
    static let down = "b1e2d3c4a5f60718293a4b5c6d7e8f90"
    static let deregistered = "6e9f0a1b2c3d4e5f8a7b6c5d4e3f2a1b"
    static let leaseAcquired = "1312ce24542f4c499e154aa232fa2363"
    static let leaseReleased = "101c1c02779f4123b7424083dedfd4d9"
}

/// The example's three templates installed into the private user manager for instances 1–3 on
/// 127.0.0.11–13, against one etcd under a key prefix of their own — or, with `backend`
/// variables added to the units' environment file, against another store.
struct Fleet: Sendable {
    static let instances = ExampleUnits.instances
    static func address(_ instance: Int) -> String { "127.0.0.1\(instance)" }
    static func serviceID(_ instance: Int) -> String { "elasticsearch-\(instance)" }
    static func instance(of serviceID: String) -> Int { Int(serviceID.dropFirst("elasticsearch-".count)) ?? 0 }

    let endpoints: String
    /// Added to the environment file every unit reads (and to `serviceMonitor`'s environment).
    let backend: [String: String]
    let prefix: String
    let state: String
    let units: ExampleUnits

    func main(_ instance: Int) -> String { units.main(instance) }
    func lease(_ instance: Int) -> String { units.lease(instance) }
    func monitor(_ instance: Int) -> String { units.monitor(instance) }
    func instanceKey(_ instance: Int) -> String { "\(prefix)/elasticsearch/instances/\(Self.serviceID(instance))" }

    init(endpoints: String, backend: [String: String] = [:]) async throws {
        self.endpoints = endpoints
        self.backend = backend
        prefix = "/" + uniqueLabel("fleet")
        state = try EtcdTestPaths.makeTemporaryDirectory(prefix: "fleet")
        let httpPort = try EtcdFreePorts.take(1)[0]
        let arguments = [
            "--state", state,
            "--service-monitor", try BuildProducts.executable(named: "service-monitor"),
            "--stand-in", try BuildProducts.executable(named: "stand-in-service"),
            "--endpoints", endpoints, "--prefix", prefix, "--http-port", "\(httpPort)",
            // The shipped monitor checks every 10 s; 1 s keeps the test short, and 800 ms for one
            // check holds up on a machine busy with the other suites (300 ms did not).
            "--watch-options", "--interval 1s --timeout 800ms",
        ] + Self.instances.flatMap { ["--instance", "\($0)=\(Self.address($0))"] }
        units = try await ExampleUnits.install("elasticsearch", script: "fleet-units.sh", arguments)
        if !backend.isEmpty {
            // The shipped units take their store from this file, as an operator's would.
            let file = state + "/elasticsearch.env"
            let lines = backend.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)\n" }.joined()
            try (String(contentsOfFile: file, encoding: .utf8) + lines).write(toFile: file, atomically: true, encoding: .utf8)
        }
    }

    func tearDown() async {
        await units.remove()
        try? FileManager.default.removeItem(atPath: state)
    }

    /// `service-monitor` run the way the units run it: configured by the environment file.
    func serviceMonitor(_ arguments: [String]) async throws -> CommandResult {
        var environment: [String: String?] = [
            "SERVICE_MONITOR_ENDPOINTS": endpoints, "SERVICE_MONITOR_PREFIX": prefix, "JOURNAL_STREAM": nil, "NOTIFY_SOCKET": nil,
        ]
        for (name, value) in backend { environment[name] = value }
        return try await Command.run(try BuildProducts.executable(named: "service-monitor"), arguments, environment: environment, timeout: .seconds(20))
    }

    /// Runs `service-monitor` until `condition` holds (at most ~5 s); returns the last result.
    func settled(_ arguments: [String], _ condition: (CommandResult) -> Bool) async throws -> CommandResult {
        var result = try await serviceMonitor(arguments)
        for _ in 0..<25 where !condition(result) {
            try await Task.sleep(for: .milliseconds(200))
            result = try await serviceMonitor(arguments)
        }
        return result
    }

    /// This run's entries of `journalctl SERVICE_MONITOR_LABEL=elasticsearch` (the label is the
    /// example's, so entries from earlier runs are cut off by the time of the cursor taken at the
    /// start — not with `--after-cursor`, which journalctl 252 combines wrongly with matches).
    func journal(_ cursor: String, _ matches: [String]) async throws -> [Journal.Entry] {
        let start = try Journal.realtime(ofCursor: cursor)
        return try await Journal.entries(matching: ["SERVICE_MONITOR_LABEL=elasticsearch"] + matches, extraArguments: ["--since", "@\(start / 1_000_000)"])
            .filter { UInt64($0["__REALTIME_TIMESTAMP"] ?? "").map { $0 > start } ?? false }
    }
}

/// Every change under the fleet's prefix, from an etcd watch, in revision order.
final class PrefixHistory: Sendable {
    struct Event: Sendable, CustomStringConvertible {
        var revision: Int64
        var key: String
        var isPut: Bool
        var state: String?

        var serviceID: String { String(key.split(separator: "/").last ?? "") }
        var isHolder: Bool { key.contains("/startup/holders/") }
        var isInstance: Bool { key.contains("/instances/") }
        var description: String { "\(revision) \(isPut ? "+" : "-")\(key)\(state.map { " " + $0 } ?? "")" }
    }

    let prefix: String
    private let recorded = Mutex<[Event]>([])

    init(prefix: String) {
        self.prefix = prefix + "/"
    }

    var events: [Event] { recorded.withLock { $0 } }

    func first(where condition: (Event) -> Bool) -> Event? { events.first(where: condition) }

    struct HolderChange: Sendable, CustomStringConvertible {
        var isPut: Bool
        var serviceID: String
        var description: String { (isPut ? "+" : "-") + serviceID }
    }

    var holderChanges: [HolderChange] {
        events.filter(\.isHolder).map { HolderChange(isPut: $0.isPut, serviceID: $0.serviceID) }
    }

    var mostHoldersAtOnce: Int {
        var holding = Set<String>(), most = 0
        for change in holderChanges {
            if change.isPut { holding.insert(change.serviceID) } else { holding.remove(change.serviceID) }
            most = max(most, holding.count)
        }
        return most
    }

    func record(_ client: EtcdClient, from revision: Int64) async throws {
        try await client.watch(.prefix(prefix), options: WatchOptions(startRevision: revision)) { batches in
            for try await batch in batches {
                let events = batch.events.map { event in
                    let state = event.kind == .put
                        ? (try? JSONSerialization.jsonObject(with: Data(event.kv.value)) as? [String: Any])?["state"] as? String
                        : nil
                    return Event(revision: event.kv.modRevision, key: event.kv.keyString, isPut: event.kind == .put, state: state)
                }
                recorded.withLock { $0 += events }
            }
        }
    }
}

extension Journal {
    /// The journal's current cursor: entries written later are read with `--after-cursor`.
    static func cursor() async throws -> String {
        let result = try await Command.run("journalctl", ["--no-pager", "--quiet", "--show-cursor", "-n", "0"])
        guard let line = result.standardOutput.split(separator: "\n").first(where: { $0.hasPrefix("-- cursor: ") }) else {
            throw CommandError(description: "journalctl printed no cursor: \(result)")
        }
        return String(line.dropFirst("-- cursor: ".count))
    }

    /// The wall-clock time (µs since the epoch) of the entry a cursor points at: its `t=` field.
    static func realtime(ofCursor cursor: String) throws -> UInt64 {
        guard let field = cursor.split(separator: ";").first(where: { $0.hasPrefix("t=") }),
              let value = UInt64(field.dropFirst(2), radix: 16)
        else { throw CommandError(description: "no t= in journal cursor \(cursor)") }
        return value
    }
}
