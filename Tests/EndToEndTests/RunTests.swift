import Etcd
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `run` as a plain process (no service manager): what it hands its command, its exit status,
/// and that its child and its record never outlive it.
@Suite("run", .timeLimit(.minutes(3)))
struct RunTests {
    @Test func handsTheInstancesUpToTheCommandAndExitsWithItsStatus() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("run"), directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "run")
                defer { try? FileManager.default.removeItem(atPath: directory) }
                func run(_ id: String, _ script: String) throws -> MonitorProcess {
                    try MonitorProcess(RunTests.arguments(cluster, label, id, ["--template", "{service_id}"], script: script))
                }
                // The first is handed nobody and stays; its record is up before the second starts.
                let first = try run("r-1", #"printf '%s|%s\n' "$1" "$SERVICE_MONITOR_HOSTS" > \#(directory)/r-1; exec sleep 6017"#)
                _ = try await client.waitForRecord("/service-monitor/\(label)/instances/r-1", "up") { $0?.state == "up" }
                // The second is handed the first, in its argument and its environment, and exits 3.
                let second = try run("r-2", #"printf '%s|%s\n' "$1" "$SERVICE_MONITOR_HOSTS" > \#(directory)/r-2; sleep 2; exit 3"#)
                #expect(try await second.waitForExit(timeout: .seconds(60)) == 3, "\(second.log)")
                #expect(try String(contentsOfFile: directory + "/r-1", encoding: .utf8) == "--peers=|\n")
                #expect(try String(contentsOfFile: directory + "/r-2", encoding: .utf8) == "--peers=r-1|r-1\n")
                #expect(try await client.range(.key("/service-monitor/\(label)/instances/r-2")).kvs.isEmpty, "\(second.log)")
                #expect(second.log.contains("exited with status 3"), "\(second.log)")

                // Killed by a signal not sent by run: 128 + N, and the record is gone.
                let pid = try await Self.childPID(of: "sleep 6017")
                kill(pid, SIGKILL)
                #expect(try await first.waitForExit(timeout: .seconds(30)) == 128 + SIGKILL, "\(first.log)")
                #expect(try await client.range(.key("/service-monitor/\(label)/instances/r-1")).kvs.isEmpty, "\(first.log)")
            }
        }
    }

    @Test func onSIGTERMItDeregistersBeforeTheCommandIsSignalled() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("run-stop"), directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "run")
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let hosts = try BuildProducts.executable(named: "service-monitor") + " hosts --endpoints \(cluster.clientURLs[0]) --label \(label) --template '{service_id}'"
                // On SIGTERM the command asks the store who is up, then exits 0.
                let script = #"trap '\#(hosts) > \#(directory)/at-term; exit 0' TERM; echo started > \#(directory)/started; while :; do sleep 0.1; done"#
                let run = try MonitorProcess(Self.arguments(cluster, label, "r-1", [], script: script))
                _ = try await client.waitForRecord("/service-monitor/\(label)/instances/r-1", "up") { $0?.state == "up" }
                // The check is up at once; the command may not have set its trap yet.
                try await eventually("the command to set its trap") { FileManager.default.fileExists(atPath: directory + "/started") }
                #expect(try await run.terminate(timeout: .seconds(30)) == 0, "\(run.log)")
                let seen = try String(contentsOfFile: directory + "/at-term", encoding: .utf8)
                #expect(seen == "", "the command saw \(seen.debugDescription) up when it got SIGTERM; log: \(run.log)")
                #expect(run.log.contains("forwarding SIGTERM"), "\(run.log)")
            }
        }
    }

    @Test func aKilledRunTakesItsCommandWithItAndItsRecordExpiresWithinTheTTL() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("run-kill")
                let key = "/service-monitor/\(label)/instances/r-1"
                let run = try MonitorProcess(Self.arguments(cluster, label, "r-1", ["--ttl", "3s"], script: "exec sleep 6018"))
                _ = try await client.waitForRecord(key, "up") { $0?.state == "up" }
                let child = try await Self.childPID(of: "sleep 6018")

                await run.kill9()
                let killed = ContinuousClock.now
                try await eventually("the command (pid \(child)) to end with service-monitor", timeout: .seconds(10)) { !Self.isAlive(child) }
                _ = try await client.waitForRecord(key, timeout: .seconds(15), "gone") { $0 == nil }
                // The lease is 3 s; the last keep-alive may have been up to a third of it before.
                #expect(ContinuousClock.now - killed < .seconds(8))
            }
        }
    }

    @Test func nothingStartsWhenTheLeaseIsNotAcquiredInTime() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("run-wait"), directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "run")
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let lease = StartupLeaseFixture(cluster, client, label: label)
                _ = try await lease.acquireNow("holder")
                let run = try MonitorProcess(Self.arguments(cluster, label, "r-1", ["--acquire-timeout", "2s"], script: "touch \(directory)/started"))
                #expect(try await run.waitForExit(timeout: .seconds(30)) == 1, "\(run.log)")
                #expect(!FileManager.default.fileExists(atPath: directory + "/started"))
                #expect(run.log.contains("not acquired within --acquire-timeout 2s"), "\(run.log)")
                #expect(try await client.range(.prefix("/service-monitor/\(label)/instances/")).kvs.isEmpty)
            }
        }
    }

    @Test func aLeaseThatTimesOutBeforeTheFirstUpLetsTheNextInWhileTheServiceRunsOn() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("run-slow"), directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "run")
                defer { try? FileManager.default.removeItem(atPath: directory) }
                // Never healthy: its check looks for a file nobody writes.
                var slow = Self.arguments(cluster, label, "r-1", ["--lease-timeout", "2s"], script: "exec sleep 6019")
                slow[slow.firstIndex(of: "/bin/true")!] = "test -e \(directory)/never"
                let first = try MonitorProcess(slow)
                let second = try MonitorProcess(Self.arguments(cluster, label, "r-2", [], script: "exec sleep 6020"))
                _ = try await client.waitForRecord("/service-monitor/\(label)/instances/r-2", timeout: .seconds(30), "up") { $0?.state == "up" }
                #expect(first.isRunning, "\(first.log)")
                try await eventually("the first to say its lease ran out") { first.log.contains("ran out (--lease-timeout 2s) before r-1 was healthy") }
                #expect(try await first.terminate(timeout: .seconds(30)) == 128 + SIGTERM, "\(first.log)")
                #expect(try await second.terminate(timeout: .seconds(30)) == 128 + SIGTERM, "\(second.log)")
            }
        }
    }

    @Test func helpPrintsTheCommandAndExits0() async throws {
        let binary = try BuildProducts.executable(named: "service-monitor")
        let help = try await Command.run(binary, ["run", "--help"])
        #expect(help.status == 0, "\(help)")
        #expect(help.standardOutput.contains("USAGE: service-monitor run [<options>] --label <label> --service-id <service-id> -- [<command> ...]"), "\(help)")
        #expect(help.standardOutput.contains("--stop-timeout <duration>"), "\(help)")
        #expect(help.standardError.isEmpty, "\(help)")
        let root = try await Command.run(binary, ["--help"])
        #expect(root.status == 0 && root.standardOutput.contains("SUBCOMMANDS:") && root.standardOutput.contains("run"), "\(root)")
    }

    /// `run` with a command check that is always up, then `/bin/sh -c SCRIPT sh --peers={hosts}`.
    static func arguments(_ cluster: EtcdCluster, _ label: String, _ id: String, _ extra: [String], script: String) -> [String] {
        [
            "run", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", id, "--host-ip", "127.0.0.1",
            "--monitor-command", "/bin/true", "--interval", "1s", "--timeout", "800ms",
        ] + extra + ["--", "/bin/sh", "-c", script, "sh", "--peers={hosts}"]
    }

    /// The process whose command line is `commandLine` (unique to the test), once it exists.
    static func childPID(of commandLine: String) async throws -> pid_t {
        try await eventually("a process \(commandLine.debugDescription)") { () -> pid_t? in
            let result = try await Command.run("pgrep", ["-x", "-f", commandLine])
            return result.status == 0 ? result.standardOutput.split(separator: "\n").first.flatMap { pid_t($0) } : nil
        }
    }

    /// Running, not merely a zombie nobody has reaped yet.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(end, offsetBy: 2)]
        return state != "Z" && state != "X"
    }
}
