import Etcd
import Foundation
import Testing
import TestSupport

/// etcd out of space: a member with a 1 MiB `--quota-backend-bytes` filled until its NOSPACE
/// alarm is raised. A running `watch` says so in STATUS= and keeps checking; `acquire-lease` and a
/// new `watch` exit 69 with one line saying etcd is out of space; `hosts` still reads; once the
/// operator frees space and disarms the alarm, the pending transition is written.
@Suite("etcd out of space", .timeLimit(.minutes(2)))
struct OutOfSpaceTests {
    @Test(.shares(.userManager)) func watchDegradesNamingTheAlarmWritersExit69AndHostsStillReads() async throws {
        try await EtcdCluster.with(members: 1, extraArguments: ["--quota-backend-bytes", "\(1 << 20)"]) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let service = try await StandIn()
                let label = uniqueLabel("nospace")
                let key = "/service-monitor/\(label)/instances/s-1"
                let unit = "sm-nospace-\(label).service"
                let binary = try BuildProducts.executable(named: "service-monitor")
                let endpoints = cluster.clientURLs.joined(separator: ",")
                try await UserManager.removing(unit) {
                    let started = try await UserManager.run(
                        unit: unit, properties: ["Type=notify", "NotifyAccess=main"],
                        command: [
                            binary, "watch", "--endpoints", endpoints, "--label", label, "--service-id", "s-1",
                            "--monitor-url", service.url, "--interval", "500ms", "--timeout", "400ms", "--ttl", "5s",
                            "--host-ip", "127.0.0.61",
                        ]
                    )
                    #expect(started.status == 0, "\(started)")
                    let registered = try #require(try await client.waitForRecord(key, "up") { $0?.state == "up" })

                    // Fill the store until etcd refuses a put for space.
                    let filler = String(repeating: "x", count: 100_000)
                    var refusal: EtcdError?  // the put that failed, if one did
                    for index in 0..<100 where refusal == nil {
                        do {
                            try await client.put("/fill-\(label)/\(index)", value: filler)
                        } catch {
                            refusal = error as? EtcdError
                        }
                    }
                    #expect(refusal?.code == .noSpace, "\(String(describing: refusal))")
                    #expect(try await cluster.etcdctl(["alarm", "list"]).contains("NOSPACE"))

                    // A transition cannot be written: STATUS= names the alarm, checks go on.
                    try service.set(status: 503)
                    let degraded = try await eventually("StatusText to name the NOSPACE alarm") {
                        let text = try await UserManager.properties(of: unit, ["StatusText"])["StatusText"] ?? ""
                        return text.contains("NOSPACE") ? text : nil
                    }
                    #expect(degraded.hasPrefix("down · HTTP 503"), "\(degraded)")
                    #expect(degraded.contains("degraded: etcd out of space"), "\(degraded)")
                    let checks = service.served.count
                    try await eventually("checks to go on while etcd is out of space") { service.served.count >= checks + 3 }

                    // hosts still reads (the record kept its last stored state, on its lease).
                    let hosts = try await Command.run(
                        binary, ["hosts", "--endpoints", endpoints, "--label", label], environment: ["JOURNAL_STREAM": nil]
                    )
                    #expect(hosts.status == 0, "\(hosts)")
                    #expect(hosts.standardOutput == "127.0.0.61\n", "\(hosts)")
                    #expect(try await client.range(.key(key)).kvs.first?.lease == registered.lease)

                    // acquire-lease and a new watch: exit 69, one line that says etcd is out of space.
                    let acquire = try await Command.run(
                        binary, ["acquire-lease", "--endpoints", endpoints, "--label", label, "--service-id", "s-2"],
                        environment: ["JOURNAL_STREAM": nil], timeout: .seconds(30)
                    )
                    expectOutOfSpace(acquire)
                    let secondService = try await StandIn()
                    let second = try MonitorProcess([
                        "watch", "--endpoints", endpoints, "--label", label, "--service-id", "s-3", "--monitor-url", secondService.url,
                        "--interval", "1s", "--timeout", "500ms", "--host-ip", "127.0.0.62", "--log-target", "console",
                    ])
                    let secondStatus = try await second.waitForExit(timeout: .seconds(30), "a new watch to exit while etcd is out of space")
                    let secondLines = second.log.split(separator: "\n").filter { $0.hasPrefix("service-monitor: ") }
                    expectOutOfSpace(CommandResult(status: secondStatus, standardOutput: "", standardError: secondLines.joined(separator: "\n") + "\n"))
                    #expect(try await client.range(.prefix("/service-monitor/\(label)/startup/")).kvs.isEmpty)
                    #expect(try await client.range(.key("/service-monitor/\(label)/instances/s-3")).kvs.isEmpty)

                    // The operator frees space: the pending transition is stored, on the same lease.
                    try await cluster.etcdctl(["del", "--prefix", "/fill-\(label)/"])
                    let revision = try await client.currentRevision()
                    try await cluster.etcdctl(["compact", "\(revision)"])
                    try await cluster.etcdctl(["defrag"])
                    try await cluster.etcdctl(["alarm", "disarm"])
                    let down = try #require(try await client.waitForRecord(key, "down once space is freed") { $0?.state == "down" })
                    #expect(down.lease == registered.lease)
                    _ = try await eventually("StatusText to say registered again") {
                        let text = try await UserManager.properties(of: unit, ["StatusText"])["StatusText"] ?? ""
                        return text.contains("registered 127.0.0.61") ? text : nil
                    }
                    #expect(try await UserManager.properties(of: unit, ["ActiveState"])["ActiveState"] == "active")
                }
            }
        }
    }
}

private func expectOutOfSpace(_ result: CommandResult, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.status == 69, "\(result)", sourceLocation: sourceLocation)
    let lines = result.standardError.split(separator: "\n")
    #expect(lines.count == 1, "\(result)", sourceLocation: sourceLocation)
    #expect(lines.first?.hasPrefix("service-monitor: etcd is out of space (NOSPACE alarm") == true, "\(result)", sourceLocation: sourceLocation)
}
