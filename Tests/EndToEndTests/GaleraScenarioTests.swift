import Etcd
import Foundation
import Testing
import TestSupport

/// The Galera example end to end: the shipped `units/examples/galera` units (copied by
/// `scripts/galera-units.sh`, which swaps only the binary path, the environment files, each node's
/// directories and addresses, and the check interval) run three real MariaDB Galera nodes under the
/// private systemd user manager, with a real etcd. Started at the same moment, exactly one node
/// bootstraps the cluster and the others join the nodes up before them, one at a time.
@Suite("Galera scenario under systemd", .needsAlone(.userManager), .timeLimit(.minutes(4)))
struct GaleraScenarioTests {
    @Test func threeNodesStartedAtOnceFormOneClusterAndAStoppedNodeRejoinsIt() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let galera = try await GaleraNodes(endpoints: cluster.clientURLs[0])
            try await tearingDown(galera.tearDown) {
                try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                    try await scenario(galera, client)
                }
            }
        }
    }

    private func scenario(_ galera: GaleraNodes, _ client: EtcdClient) async throws {
        let history = PrefixHistory(prefix: galera.prefix)
        let cursor = try await Journal.cursor()
        let startRevision = try await client.currentRevision()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await history.record(client, from: startRevision + 1) }
            defer { group.cancelAll() }

            try await Self.startAtOnce(galera.main, galera, client, history)

            let order = try Self.checkOneBootstrappedTheOthersJoined(galera, history)
            // What Galera itself says: one node bootstrapped a new group, the first to start.
            let bootstrapped = try await eventually("the bootstrap in the journal", timeout: .seconds(10)) {
                let units = try await galera.bootstrappingUnits(galera.main, since: cursor)
                return units.isEmpty ? nil : units
            }
            #expect(bootstrapped == [galera.main(order[0])], "bootstrapped a new group: \(bootstrapped)")
            let clusterID = try await Self.checkOneCluster(galera, order)
            try await galera.sql(order[0], "CREATE DATABASE scenario; CREATE TABLE scenario.rows (id INT PRIMARY KEY, written_on VARCHAR(16)); INSERT INTO scenario.rows VALUES (1, 'galera-\(order[0])')")
            for instance in order.dropFirst() {
                #expect(try await galera.readRows(instance) == ["1\tgalera-\(order[0])"], "galera-\(instance) does not see the row written on galera-\(order[0])")
            }
            try await checkStopAndRejoin(galera, client, clusterID: clusterID, firstWriter: order[0])
            let bootstrappedInAll = try await galera.bootstrappingUnits(galera.main, since: cursor)
            #expect(bootstrappedInAll == [galera.main(order[0])], "bootstrapped a new group: \(bootstrappedInAll)")
        }
    }

    /// Starts `unit` of every node at the same moment (one start job each, queued in one call) and
    /// waits until each is registered Synced and the startup lease is free again.
    static func startAtOnce(_ unit: (Int) -> String, _ galera: GaleraNodes, _ client: EtcdClient, _ history: PrefixHistory) async throws {
        let started = ContinuousClock.now
        let start = try await UserManager.systemctl(["start", "--no-block"] + GaleraNodes.instances.map(unit))
        try #require(start.status == 0, "\(start)")
        for instance in GaleraNodes.instances {
            let record = try await client.waitForRecord(galera.instanceKey(instance), timeout: .seconds(120), "Synced") { $0?.state == "up" }
            #expect(record?.detail?.contains(": Synced, wsrep_ready=ON, Primary, cluster size ") == true, "\(String(describing: record?.json))")
        }
        try await eventually("the startup lease to be free (history: \(history.events))", timeout: .seconds(20)) {
            history.holderChanges.filter { !$0.isPut }.count == 3
        }
        print("Galera scenario: three \(unit(1).split(separator: "@")[0])@ nodes Synced \(ContinuousClock.now - started) after they were started at once")
    }

    /// The lease let one node in at a time; the first was handed an empty list (gcomm://: it
    /// bootstrapped), each later one the nodes up before it. Returns the instances in the order
    /// they started. (Either form: what each node was handed is in its `handed` file.)
    static func checkOneBootstrappedTheOthersJoined(_ galera: GaleraNodes, _ history: PrefixHistory) throws -> [Int] {
        #expect(history.mostHoldersAtOnce == 1, "\(history.holderChanges)")
        let order = history.holderChanges.filter(\.isPut).map { GaleraNodes.instance(of: $0.serviceID) }
        try #require(order.sorted() == GaleraNodes.instances, "holders: \(history.holderChanges)")
        for (position, instance) in order.enumerated() where position > 0 {
            let acquired = try #require(history.first { $0.isHolder && $0.isPut && $0.serviceID == GaleraNodes.serviceID(instance) })
            let previousUp = try #require(history.first { $0.isInstance && $0.serviceID == GaleraNodes.serviceID(order[position - 1]) && $0.state == "up" })
            #expect(acquired.revision > previousUp.revision, "galera-\(instance) took the lease before galera-\(order[position - 1]) was Synced")
        }
        let handed = try GaleraNodes.instances.map { try galera.handed($0) }
        #expect(handed.filter { $0 == [""] }.count == 1, "exactly one node bootstraps: \(handed)")
        for (position, instance) in order.enumerated() {
            // Usually every node before it. But a donor is down while it sends a state transfer
            // (not Synced), and may still be when the joiner it served is up and the next node
            // asks: so exactly the nodes that started before it and were up when it took the lease,
            // plus any such donor up again by the time its unit asked — in registration order.
            let acquired = try #require(history.first { $0.isHolder && $0.isPut && $0.serviceID == GaleraNodes.serviceID(instance) })
            let upThen = history.instancesUp(atRevision: acquired.revision).map(GaleraNodes.instance(of:))
            let list = handed[instance - 1]
            guard list.count == 1 else {
                Issue.record("galera-\(instance) started once, was handed \(list)")
                continue
            }
            let peers = list[0].isEmpty ? [] : list[0].split(separator: ",").map(String.init)
            let before = order[..<position].map(GaleraNodes.address)
            #expect(peers == before.filter(peers.contains), "galera-\(instance) (#\(position + 1) to start) was handed \(peers), not a part of \(before) in order")
            #expect(Set(upThen.map(GaleraNodes.address)).isSubset(of: Set(peers)), "galera-\(instance) was handed \(peers) while \(upThen) were up")
            #expect(position == 0 || !peers.isEmpty, "galera-\(instance) (#\(position + 1) to start) was handed no node")
            if !peers.isEmpty, peers != before { print("Galera scenario: galera-\(instance) was handed \(peers), not \(before): a donor was still sending") }
        }
        return order
    }

    /// Every node counts three members of one cluster (one state UUID). Returns that UUID.
    static func checkOneCluster(_ galera: GaleraNodes, _ instances: [Int]) async throws -> String {
        var clusterIDs: Set<String> = []
        for instance in instances {
            let status = try await galera.wsrepStatus(instance)
            #expect(status["wsrep_cluster_size"] == "3", "galera-\(instance): \(status)")
            #expect(status["wsrep_local_state_comment"] == "Synced", "galera-\(instance): \(status)")
            clusterIDs.insert(status["wsrep_cluster_state_uuid"] ?? "none")
        }
        #expect(clusterIDs.count == 1, "one cluster, one state UUID: \(clusterIDs)")
        return try #require(clusterIDs.first)
    }

    /// Stopping a node's main unit stops its monitor (BindsTo=), which deregisters at once; started
    /// again it is handed the two others and rejoins their cluster (no bootstrap: it counts three,
    /// and catches up on what was written while it was away).
    private func checkStopAndRejoin(_ galera: GaleraNodes, _ client: EtcdClient, clusterID: String, firstWriter: Int) async throws {
        let stopped = 2, others = [1, 3]
        let stop = try await UserManager.systemctl(["stop", galera.main(stopped)])
        #expect(stop.status == 0, "\(stop)")
        #expect(try await client.range(.key(galera.instanceKey(stopped))).kvs.isEmpty, "galera-\(stopped) still registered after its unit stopped")
        let monitor = try await UserManager.properties(of: galera.monitor(stopped), ["ActiveState"])
        #expect(monitor["ActiveState"] == "inactive", "\(monitor)")
        for instance in others {
            let status = try await galera.wsrepStatus(instance, once: 2)
            #expect(status["wsrep_local_state_comment"] == "Synced", "galera-\(instance): \(status)")
        }
        try await galera.sql(others[0], "INSERT INTO scenario.rows VALUES (2, 'galera-\(others[0])')")

        let registered = try await galera.registered(client)
        try #require(registered.sorted() == others, "\(registered)")
        let restart = try await UserManager.systemctl(["start", galera.main(stopped)])
        #expect(restart.status == 0, "\(restart)")
        _ = try await client.waitForRecord(galera.instanceKey(stopped), timeout: .seconds(90), "Synced again") { $0?.state == "up" }
        let handed = try galera.handed(stopped)
        #expect(handed.count == 2 && handed.last == registered.map(GaleraNodes.address).joined(separator: ","), "galera-\(stopped) was handed \(handed)")

        for instance in GaleraNodes.instances {
            let status = try await galera.wsrepStatus(instance, once: 3)
            #expect(status["wsrep_cluster_state_uuid"] == clusterID, "galera-\(instance): \(status)")
        }
        let rows = try await galera.readRows(stopped)
        #expect(rows == ["1\tgalera-\(firstWriter)", "2\tgalera-\(others[0])"], "galera-\(stopped) after rejoining: \(rows)")
    }
}

/// The example's templates (both forms) installed into the private user manager for nodes 1–3 on
/// 127.0.0.11–13 (each with its own data directory and socket), against one etcd under a key prefix
/// of their own.
struct GaleraNodes: Sendable {
    static let instances = ExampleUnits.instances
    static func address(_ instance: Int) -> String { "127.0.0.1\(instance)" }
    static func serviceID(_ instance: Int) -> String { "galera-\(instance)" }
    static func instance(of serviceID: String) -> Int { Int(serviceID.dropFirst("galera-".count)) ?? 0 }

    let prefix: String
    let state: String
    let units: ExampleUnits

    func main(_ instance: Int) -> String { units.main(instance) }
    func run(_ instance: Int) -> String { units.run(instance) }
    func monitor(_ instance: Int) -> String { units.monitor(instance) }
    func instanceKey(_ instance: Int) -> String { "\(prefix)/galera/instances/\(Self.serviceID(instance))" }

    init(endpoints: String) async throws {
        prefix = "/" + uniqueLabel("galera")
        state = try EtcdTestPaths.makeTemporaryDirectory(prefix: "galera")
        let arguments = [
            "--state", state,
            "--service-monitor", try BuildProducts.executable(named: "service-monitor"),
            "--endpoints", endpoints, "--prefix", prefix,
            // The shipped monitor checks every 10 s; 1 s keeps the test short.
            "--watch-options", "--interval 1s --timeout 800ms",
        ] + Self.instances.flatMap { ["--instance", "\($0)=\(Self.address($0))"] }
        // (mariadb-install-db initialises the three data directories.)
        units = try await ExampleUnits.install("galera", script: "galera-units.sh", arguments, timeout: .seconds(120))
    }

    func tearDown() async {
        await units.remove()
        try? FileManager.default.removeItem(atPath: state)
    }

    /// The peer lists the node's main unit was handed, one per start.
    func handed(_ instance: Int) throws -> [String] {
        let text = try String(contentsOfFile: "\(state)/node-\(instance)/handed", encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// Runs `statements` on the node as root through its socket; returns the rows, tab-separated.
    @discardableResult
    func sql(_ instance: Int, _ statements: String) async throws -> [String] {
        let result = try await Command.run("/usr/bin/mariadb", ["--socket=\(state)/node-\(instance)/mysqld.sock", "-N", "-B", "-e", statements], timeout: .seconds(30))
        guard result.status == 0 else { throw CommandError(description: "galera-\(instance): \(statements): \(result)") }
        return result.standardOutput.split(separator: "\n").map(String.init)
    }

    /// The test table's rows as the node sees them once it has applied every write the cluster
    /// committed before the read (wsrep_sync_wait).
    func readRows(_ instance: Int) async throws -> [String] {
        try await sql(instance, "SET SESSION wsrep_sync_wait = 1; SELECT id, written_on FROM scenario.rows ORDER BY id")
    }

    /// The units (`main` or `run` of each instance) whose MariaDB logged bootstrapping a new
    /// Galera group since `cursor`.
    func bootstrappingUnits(_ unit: (Int) -> String, since cursor: String) async throws -> [String] {
        let start = try Journal.realtime(ofCursor: cursor)
        let units = Self.instances.map { "_SYSTEMD_UNIT=\(unit($0))" } + ["+"] + Self.instances.map { "_SYSTEMD_USER_UNIT=\(unit($0))" }
        return try await Journal.entries(matching: units, extraArguments: ["--since", "@\(start / 1_000_000)", "--grep", "gcomm: bootstrapping new group"])
            .filter { UInt64($0["__REALTIME_TIMESTAMP"] ?? "").map { $0 > start } ?? false }
            .compactMap { $0["_SYSTEMD_USER_UNIT"] ?? $0["_SYSTEMD_UNIT"] }
    }

    /// The instances registered (up or not), oldest first: the order `hosts` lists them in.
    func registered(_ client: EtcdClient) async throws -> [Int] {
        try await client.range(.prefix(prefix + "/galera/instances/")).kvs
            .sorted { $0.createRevision < $1.createRevision }
            .map { Self.instance(of: String($0.keyString.split(separator: "/").last ?? "")) }
    }

    /// The node's status once it counts `size` members.
    func wsrepStatus(_ instance: Int, once size: Int) async throws -> [String: String] {
        try await eventually("galera-\(instance) to count \(size) nodes", timeout: .seconds(30)) {
            let status = try await wsrepStatus(instance)
            return status["wsrep_cluster_size"] == "\(size)" ? status : nil
        }
    }

    func wsrepStatus(_ instance: Int) async throws -> [String: String] {
        let rows = try await sql(instance, "SHOW GLOBAL STATUS WHERE Variable_name IN ('wsrep_cluster_size', 'wsrep_cluster_state_uuid', 'wsrep_local_state_comment', 'wsrep_ready')")
        var status: [String: String] = [:]
        for row in rows {
            let fields = row.split(separator: "\t", maxSplits: 1).map(String.init)
            if fields.count == 2 { status[fields[0]] = fields[1] }
        }
        return status
    }
}

extension PrefixHistory {
    /// The service IDs whose instance record said "up" at `revision`.
    func instancesUp(atRevision revision: Int64) -> [String] {
        var states: [String: String] = [:]
        for event in events where event.isInstance && event.revision <= revision {
            states[event.serviceID] = event.isPut ? event.state : nil
        }
        return states.filter { $0.value == "up" }.map(\.key).sorted()
    }
}
