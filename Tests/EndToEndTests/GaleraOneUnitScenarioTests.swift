import Etcd
import Foundation
import Testing
import TestSupport

/// The Galera example in its one-unit form end to end: the shipped `galera-run@.service` (copied by
/// `scripts/galera-units.sh` like the three-unit form, its mariadbd started through a recorder that
/// notes the cluster address `run` handed it) runs three real MariaDB Galera nodes under the
/// private systemd user manager, with a real etcd, started at the same moment.
@Suite("Galera one-unit scenario under systemd", .needsAlone(.userManager), .timeLimit(.minutes(4)))
struct GaleraOneUnitScenarioTests {
    @Test func threeRunUnitsStartedAtOnceFormOneClusterAndAStoppedOneRejoinsIt() async throws {
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

            let started = ContinuousClock.now
            try await GaleraScenarioTests.startAtOnce(galera.run, galera, client, history)
            // READY=1 follows the first up: each unit is active once its node is Synced.
            for instance in GaleraNodes.instances {
                try await eventually("\(galera.run(instance)) to be active", timeout: .seconds(20)) {
                    try await UserManager.properties(of: galera.run(instance), ["ActiveState"])["ActiveState"] == "active"
                }
            }

            let order = try GaleraScenarioTests.checkOneBootstrappedTheOthersJoined(galera, history)
            let bootstrapped = try await eventually("the bootstrap in the journal", timeout: .seconds(10)) {
                let units = try await galera.bootstrappingUnits(galera.run, since: cursor)
                return units.isEmpty ? nil : units
            }
            #expect(bootstrapped == [galera.run(order[0])], "bootstrapped a new group: \(bootstrapped)")
            let clusterID = try await GaleraScenarioTests.checkOneCluster(galera, order)
            try await checkStopAndRejoin(galera, client, clusterID: clusterID)
            let bootstrappedInAll = try await galera.bootstrappingUnits(galera.run, since: cursor)
            #expect(bootstrappedInAll == [galera.run(order[0])], "bootstrapped a new group: \(bootstrappedInAll)")
            print("Galera one-unit scenario: done \(ContinuousClock.now - started) after the start")
        }
    }

    /// `systemctl stop` ends with the record gone (run deregisters before it forwards SIGTERM) and
    /// the unit inactive, not failed (mariadbd exits 0 on SIGTERM); a blocking `systemctl start`
    /// returns once the node is Synced, which is handed the two others and rejoins their cluster.
    private func checkStopAndRejoin(_ galera: GaleraNodes, _ client: EtcdClient, clusterID: String) async throws {
        let stopped = 2, others = [1, 3]
        let stop = try await UserManager.systemctl(["stop", galera.run(stopped)], timeout: .seconds(120))
        #expect(stop.status == 0, "\(stop)")
        #expect(try await client.range(.key(galera.instanceKey(stopped))).kvs.isEmpty, "galera-\(stopped) still registered after its unit stopped")
        let unit = try await UserManager.properties(of: galera.run(stopped), ["ActiveState", "Result", "ExecMainStatus"])
        #expect(unit == ["ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"], "\(unit)")
        for instance in others {
            let status = try await galera.wsrepStatus(instance, once: 2)
            #expect(status["wsrep_local_state_comment"] == "Synced", "galera-\(instance): \(status)")
        }

        let registered = try await galera.registered(client)
        try #require(registered.sorted() == others, "\(registered)")
        let restart = try await UserManager.systemctl(["start", galera.run(stopped)], timeout: .seconds(120))
        #expect(restart.status == 0, "\(restart)")
        // READY=1 goes out once the up record is stored: when the blocking start returns, the
        // record already says up.
        let record = try await client.get(galera.instanceKey(stopped)).map(StoredRecord.init)
        #expect(record?.state == "up", "\(String(describing: record))")
        let handed = try galera.handed(stopped)
        #expect(handed.count == 2 && handed.last == registered.map(GaleraNodes.address).joined(separator: ","), "galera-\(stopped) was handed \(handed)")
        for instance in GaleraNodes.instances {
            let status = try await galera.wsrepStatus(instance, once: 3)
            #expect(status["wsrep_cluster_state_uuid"] == clusterID, "galera-\(instance): \(status)")
        }
    }
}
