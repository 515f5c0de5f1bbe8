import Foundation
import Testing
import TestSupport

/// The shipped unit files, checked by systemd itself.
@Suite("unit files", .tags(.fast))
struct UnitFileTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var unitFiles: [URL] {
        let units = repository.appendingPathComponent("units")
        let examples = ["elasticsearch", "galera"].map { units.appendingPathComponent("examples/" + $0) }
        return ([units] + examples).flatMap { directory in
            ((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? [])
                .filter { $0.pathExtension == "service" }
        }
    }

    @Test func everyUnitPassesSystemdAnalyzeVerify() async throws {
        let files = Self.unitFiles
        #expect(files.count == 10, "\(files)")
        // verify needs an instance name for templates and an executable that exists: instances
        // named @1, pointing at the binary just built. (The man page comes with the package.)
        let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "units")
        let binary = try BuildProducts.executable(named: "service-monitor")
        var instances: [String] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8).replacingOccurrences(of: "/usr/bin/service-monitor", with: binary)
            let instance = directory + "/" + file.lastPathComponent.replacingOccurrences(of: "@.", with: "@1.")
            try text.write(toFile: instance, atomically: true, encoding: .utf8)
            instances.append(instance)
        }
        let result = try await Command.run("systemd-analyze", ["verify", "--man=no"] + instances)
        #expect(result.status == 0, "\(result)")
        #expect(result.standardError.isEmpty, "\(result)")
        #expect(result.standardOutput.isEmpty, "\(result)")
    }

    @Test func templatesSayWhatTheContractSays() throws {
        func unit(_ path: String) throws -> String {
            try String(contentsOf: Self.repository.appendingPathComponent("units/" + path), encoding: .utf8)
        }
        let watch = try unit("service-monitor-watch@.service")
        for line in ["Type=notify", "WatchdogSec=30s", "Restart=on-failure", "EnvironmentFile=/etc/service-monitor/%i.env"] {
            #expect(watch.contains("\n" + line + "\n"), "\(line)")
        }
        let lease = try unit("service-monitor-lease@.service")
        for line in ["Type=oneshot", "RemainAfterExit=yes", "EnvironmentFile=/etc/service-monitor/%i.env"] {
            #expect(lease.contains("\n" + line + "\n"), "\(line)")
        }
        let main = try unit("examples/elasticsearch/elasticsearch@.service")
        #expect(main.contains("service-monitor hosts --label %p --port 9300"))
        #expect(main.contains("\n[X-Fleet]\n"))
        #expect(main.contains("\nConflicts=elasticsearch@*.service\n"))
        let monitor = try unit("examples/elasticsearch/elasticsearch-monitor@.service")
        for line in ["BindsTo=elasticsearch@%i.service", "After=elasticsearch@%i.service", "Type=notify", "WatchdogSec=30s", "MachineOf=elasticsearch@%i.service"] {
            #expect(monitor.contains("\n" + line + "\n"), "\(line)")
        }
        let oneUnit = try unit("examples/elasticsearch/elasticsearch-run@.service")
        for line in ["Type=notify", "NotifyAccess=main", "KillMode=mixed", "WatchdogSec=30s", "Conflicts=elasticsearch-run@*.service"] {
            #expect(oneUnit.contains("\n" + line + "\n"), "\(line)")
        }
        #expect(oneUnit.contains("ExecStart=/usr/bin/service-monitor run --label=elasticsearch --service-id=elasticsearch-%i"))
        #expect(oneUnit.contains("-Ediscovery.zen.ping.unicast.hosts={hosts}\n"))
        let leaseExample = try unit("examples/elasticsearch/elasticsearch-lease@.service")
        #expect(leaseExample.contains("\nMachineOf=elasticsearch@%i.service\n"))
        #expect(leaseExample.contains("\nType=oneshot\n"))
    }

    /// The Galera example, both forms: the first node bootstraps (an empty gcomm://), the others
    /// join the nodes up, and a node is up only once it is Synced.
    @Test func galeraExampleBootstrapsOnlyFromAnEmptyList() throws {
        func unit(_ name: String) throws -> String {
            try String(contentsOf: Self.repository.appendingPathComponent("units/examples/galera/" + name), encoding: .utf8)
        }
        let main = try unit("galera@.service")
        #expect(main.contains("PEERS=$(/usr/bin/service-monitor hosts --label %p) &&"))
        #expect(main.contains("--wsrep-cluster-address=gcomm://$${PEERS}"))
        for line in ["Requires=galera-lease@%i.service", "After=galera-lease@%i.service", "Wants=galera-monitor@%i.service", "User=mysql", "Conflicts=galera@*.service"] {
            #expect(main.contains("\n" + line + "\n"), "\(line)")
        }
        let monitor = try unit("galera-monitor@.service")
        for line in ["BindsTo=galera@%i.service", "After=galera@%i.service", "Type=notify", "WatchdogSec=30s", "MachineOf=galera@%i.service"] {
            #expect(monitor.contains("\n" + line + "\n"), "\(line)")
        }
        #expect(monitor.contains("\"--expect-body=^Synced, wsrep_ready=ON,\""))
        let lease = try unit("galera-lease@.service")
        for line in ["Type=oneshot", "RemainAfterExit=yes", "PartOf=galera@%i.service", "MachineOf=galera@%i.service"] {
            #expect(lease.contains("\n" + line + "\n"), "\(line)")
        }
        // The one-unit form: the same lease, check and service-info, run as mysql like the main
        // unit, mariadbd after -- with the nodes up in its cluster address.
        let oneUnit = try unit("galera-run@.service")
        for line in ["Type=notify", "NotifyAccess=main", "KillMode=mixed", "User=mysql", "WatchdogSec=30s", "TimeoutStartSec=infinity", "Conflicts=galera-run@*.service", "Conflicts=galera@*.service"] {
            #expect(oneUnit.contains("\n" + line + "\n"), "\(line)")
        }
        #expect(oneUnit.contains("ExecStart=/usr/bin/service-monitor run --label=galera --service-id=galera-%i \\\n    --lease-timeout=600s --acquire-timeout=3600s \\\n"))
        #expect(lease.contains("--lease-timeout=600s --acquire-timeout=3600s\n"))
        let check = try #require(monitor.range(of: "    \"--monitor-command=").map { String(monitor[$0.lowerBound...].prefix { $0 != "}" }) })
        #expect(oneUnit.contains(check), "the check differs from galera-monitor@.service's: \(check)")
        #expect(oneUnit.contains(" -- \\\n    /usr/sbin/mariadbd \\\n        --wsrep-cluster-address=gcomm://{hosts} \\\n        --wsrep-node-address=${COREOS_PRIVATE_IPV4} --wsrep-node-name=galera-%i\n"))
        let configuration = try unit("70-service-monitor-galera.cnf")
        for setting in ["wsrep_on                 = ON", "wsrep_provider           = /usr/lib/galera/libgalera_smm.so", "binlog_format            = ROW", "wsrep_sst_method         = rsync"] {
            #expect(configuration.contains("\n" + setting + "\n"), "\(setting)")
        }
    }
}
