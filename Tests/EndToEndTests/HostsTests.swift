import Etcd
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `hosts` and `status` against registrations made by real `watch` processes.
@Suite("hosts and status", .timeLimit(.minutes(2)))
struct HostsTests {
    /// Starts a watcher and waits until its record says up, so registration order is known.
    private func startWatcher(
        _ cluster: EtcdCluster, _ client: EtcdClient, label: String, id: String, host: String, service: StandIn, info: String
    ) async throws -> MonitorProcess {
        let monitor = try MonitorProcess([
            "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", id, "--monitor-url", service.url,
            "--interval", "300ms", "--timeout", "200ms", "--host-ip", host, "--service-info", info, "--log-target", "console",
        ])
        _ = try await client.waitForRecord("/service-monitor/\(label.lowercased())/instances/\(id)", "up") { $0?.state == "up" }
        return monitor
    }

    private func hosts(_ cluster: EtcdCluster, _ arguments: [String]) async throws -> CommandResult {
        try await Command.run(
            try BuildProducts.executable(named: "service-monitor"),
            ["hosts", "--endpoints", cluster.clientURLs[0]] + arguments,
            environment: ["JOURNAL_STREAM": nil]
        )
    }

    @Test func listsUpInstancesInRegistrationOrderInEveryFormat() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("Es")
                let services = try await StandIn.several(4)
                var watchers: [MonitorProcess] = []
                // es-d shares es-a's host: the host list must not repeat it.
                for (index, (id, host)) in [("es-c", "127.0.0.33"), ("es-a", "127.0.0.31"), ("es-b", "127.0.0.32"), ("es-d", "127.0.0.33")].enumerated() {
                    watchers.append(try await startWatcher(
                        cluster, client, label: label, id: id, host: host, service: services[index],
                        info: #"{"transport_port": \#(9300 + index), "name": "\#(id)"}"#
                    ))
                }

                var result = try await hosts(cluster, ["--label", label])
                #expect(result.status == 0)
                #expect(result.standardOutput == "127.0.0.33,127.0.0.31,127.0.0.32\n", "\(result)")
                // Labels are case-insensitive.
                #expect(try await hosts(cluster, ["--label", label.lowercased()]).standardOutput == result.standardOutput)
                #expect(try await hosts(cluster, ["--label", label, "--format", "lines"]).standardOutput == "127.0.0.33\n127.0.0.31\n127.0.0.32\n")
                #expect(try await hosts(cluster, ["--label", label, "--port", "9300"]).standardOutput == "127.0.0.33:9300,127.0.0.31:9300,127.0.0.32:9300\n")
                #expect(
                    try await hosts(cluster, ["--label", label, "--template", "{service_id}@{host}:{transport_port}"]).standardOutput
                        == "es-c@127.0.0.33:9300,es-a@127.0.0.31:9301,es-b@127.0.0.32:9302,es-d@127.0.0.33:9303\n"
                )
                result = try await hosts(cluster, ["--label", label, "--format", "json"])
                let records = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [[String: Any]])
                #expect(records.compactMap { $0["service_id"] as? String } == ["es-c", "es-a", "es-b", "es-d"])
                #expect(records.allSatisfy { $0["state"] as? String == "up" })

                // A down instance drops out.
                try services[1].set(status: 503)
                _ = try await client.waitForRecord("/service-monitor/\(label.lowercased())/instances/es-a", "down") { $0?.state == "down" }
                #expect(try await hosts(cluster, ["--label", label]).standardOutput == "127.0.0.33,127.0.0.32\n")

                // Nobody up: nothing at all, exit 0.
                result = try await hosts(cluster, ["--label", uniqueLabel("empty")])
                #expect(result.status == 0)
                #expect(result.standardOutput.isEmpty)
                #expect(try await hosts(cluster, ["--label", uniqueLabel("empty"), "--format", "json"]).standardOutput == "[]\n")

                // --min: 3 are up.
                #expect(try await hosts(cluster, ["--label", label, "--min", "3"]).status == 0)
                result = try await hosts(cluster, ["--label", label, "--min", "4"])
                #expect(result.status == 1)
                #expect(result.standardOutput.isEmpty)
                #expect(result.standardError.contains("3 of at least 4"), "\(result)")
                for watcher in watchers { _ = try await watcher.terminate() }
            }
        }
    }

    /// A fleet whose records outgrow gRPC's default limit on one answer (4 MiB; 20 000 records of
    /// ~280 bytes are 5.6 MB) is listed whole, in registration order.
    @Test func listsAFleetLargerThanOneAnswer() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("big")
                let count = 20_000
                func host(_ index: Int) -> String { "10.\(index >> 16).\((index >> 8) & 255).\(index & 255)" }
                // 125 to a transaction, one revision each, so within one the key order decides; 160
                // requests stay below the ~200 a connection answers in quick succession (see the
                // Etcd module in docs/architecture.md).
                for batch in stride(from: 0, to: count, by: 125) {
                    let puts = (batch..<(batch + 125)).map { index in
                        let id = "n-" + String(repeating: "0", count: 5 - String(index).count) + String(index)
                        let state = index % 10 == 3 ? "down" : "up"
                        let record = #"{"service_id":"\#(id)","host":"\#(host(index))","state":"\#(state)","since":"2026-01-01T00:00:00.000Z","detail":"HTTP 200 in 1 ms","info":{"name":"\#(id)","transport_port":9300,"zone":"eu-west-1a"}}"#
                        return TxnOperation.put("/service-monitor/\(label.lowercased())/instances/\(id)", record)
                    }
                    _ = try await client.txn(if: [], then: puts)
                }
                let expected = (0..<count).filter { $0 % 10 != 3 }.map(host)
                let listing = try await hosts(cluster, ["--label", label, "--format", "lines"])
                #expect(listing.status == 0, "\(listing.standardError)")
                #expect(listing.standardOutput == expected.joined(separator: "\n") + "\n")
                #expect(try await hosts(cluster, ["--label", label, "--min", "\(expected.count)"]).status == 0)
            }
        }
    }

    @Test func waitBlocksUntilEnoughAreUpDrivenByTheWatch() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("wait")
                let first = try await StandIn(), second = try await StandIn()
                let one = try await startWatcher(cluster, client, label: label, id: "w-1", host: "127.0.0.41", service: first, info: "{}")

                let started = ContinuousClock.now
                var result = try await hosts(cluster, ["--label", label, "--min", "2", "--wait", "1s"])
                #expect(result.status == 1)
                #expect(ContinuousClock.now - started >= .seconds(1))
                #expect(result.standardError.contains("fewer than 2 instances of \(label) were up within 1s"), "\(result)")

                let output = try EtcdTestPaths.makeTemporaryDirectory(prefix: "hosts-wait") + "/out"
                _ = FileManager.default.createFile(atPath: output, contents: nil)
                let waiter = try Command.start(
                    try BuildProducts.executable(named: "service-monitor"),
                    ["hosts", "--endpoints", cluster.clientURLs[0], "--label", label, "--min", "2", "--wait", "30s"],
                    standardOutput: FileHandle(forWritingAtPath: output)
                )
                defer { if waiter.isRunning { waiter.terminate() } }
                #expect(waiter.isRunning)
                let two = try await startWatcher(cluster, client, label: label, id: "w-2", host: "127.0.0.42", service: second, info: "{}")
                let registered = ContinuousClock.now
                try await waiter.waitForExit(timeout: .seconds(20), "hosts --wait to return")
                #expect(ContinuousClock.now - registered < .seconds(5))
                #expect(waiter.terminationStatus == 0)
                result = CommandResult(status: 0, standardOutput: try String(contentsOfFile: output, encoding: .utf8), standardError: "")
                #expect(result.standardOutput == "127.0.0.41,127.0.0.42\n")
                _ = try await one.terminate()
                _ = try await two.terminate()
            }
        }
    }

    @Test func watchPrintsEveryChangeOfTheSetAndNothingForUnrelatedWrites() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("follow")
                let services = try await StandIn.several(3)
                var watchers: [MonitorProcess] = []
                for index in 0..<3 {
                    watchers.append(try await startWatcher(
                        cluster, client, label: label, id: "f-\(index + 1)", host: "127.0.0.5\(index + 1)", service: services[index], info: "{}"
                    ))
                }
                let output = try EtcdTestPaths.makeTemporaryDirectory(prefix: "hosts-watch") + "/out"
                _ = FileManager.default.createFile(atPath: output, contents: nil)
                let follower = try Command.start(
                    try BuildProducts.executable(named: "service-monitor"),
                    ["hosts", "--endpoints", cluster.clientURLs[0], "--label", label, "--watch"],
                    standardOutput: FileHandle(forWritingAtPath: output)
                )
                defer { if follower.isRunning { follower.terminate() } }
                func lines() -> [String] {
                    ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
                }
                func expectNext(_ expected: [String]) async throws {
                    try await eventually("hosts --watch to print \(expected.last ?? "")") { lines().count >= expected.count }
                    #expect(lines() == expected)
                }
                var expected = ["127.0.0.51,127.0.0.52,127.0.0.53"]
                try await expectNext(expected)

                // 1: an instance goes down.
                try services[1].set(status: 503)
                expected.append("127.0.0.51,127.0.0.53")
                try await expectNext(expected)

                // Unrelated writes: another label, this label's startup keys, a record that stays down.
                _ = try await client.put("/service-monitor/\(label)-other/instances/x", value: "{}")
                _ = try await client.put("/service-monitor/\(label)/startup/queue/x", value: "x")
                _ = try await client.put(
                    "/service-monitor/\(label)/instances/f-9",
                    value: #"{"service_id":"f-9","host":"127.0.0.59","state":"down","since":"","detail":"","info":{}}"#
                )

                // 2: it comes back — the very next line, so nothing was printed for those writes.
                try services[1].set(status: 200)
                expected.append("127.0.0.51,127.0.0.52,127.0.0.53")
                try await expectNext(expected)

                // 3: one is stopped (deregistered at once).
                _ = try await watchers[0].terminate()
                expected.append("127.0.0.52,127.0.0.53")
                try await expectNext(expected)

                follower.send(SIGINT)
                try await follower.waitForExit(timeout: .seconds(20), "hosts --watch to exit on SIGINT")
                #expect(follower.terminationStatus == 0)
                #expect(lines() == expected)
                for watcher in watchers.dropFirst() { _ = try await watcher.terminate() }
            }
        }
    }

    @Test func watchExitsZeroOnSIGHUP() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let output = try EtcdTestPaths.makeTemporaryDirectory(prefix: "hosts-watch") + "/out"
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            let follower = try Command.start(
                try BuildProducts.executable(named: "service-monitor"),
                ["hosts", "--endpoints", cluster.clientURLs[0], "--label", uniqueLabel("hup"), "--watch"],
                standardOutput: FileHandle(forWritingAtPath: output)
            )
            defer { if follower.isRunning { follower.terminate() } }
            // Nobody is up: its first output is one empty line.
            try await eventually("hosts --watch to print its first line") {
                (try? String(contentsOfFile: output, encoding: .utf8)) == "\n"
            }
            follower.send(SIGHUP)
            // 0, not 1 (what death by SIGHUP would report).
            #expect(try await follower.waitForExit(timeout: .seconds(20), "hosts --watch to exit on SIGHUP") == 0)
        }
    }

    /// IPv6 throughout: etcd at `http://[::1]:p`, a check URL `http://[::1]:p/`, `--host-ip ::1`,
    /// and `hosts` writing the host in brackets before a port.
    @Test func ipv6EndpointsCheckURLAndHostWithPort() async throws {
        try await EtcdCluster.with(members: 1, loopback: "[::1]") { cluster in
            #expect(cluster.clientURLs[0].hasPrefix("http://[::1]:"))
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("six")
                let service = try await StandIn(host: "::1")
                #expect(service.url == "http://[::1]:\(service.port)/")
                let watcher = try await startWatcher(
                    cluster, client, label: label, id: "six-1", host: "::1", service: service, info: #"{"transport_port": 9301}"#
                )
                let record = try #require(try await client.waitForRecord("/service-monitor/\(label)/instances/six-1", "up") { $0?.state == "up" })
                #expect(record.host == "::1")
                #expect(record.detail?.hasPrefix("HTTP 200 in ") == true, "\(record.json)")
                #expect(service.served.contains(200))

                #expect(try await hosts(cluster, ["--label", label]).standardOutput == "::1\n")
                var result = try await hosts(cluster, ["--label", label, "--port", "9300"])
                #expect(result.status == 0)
                #expect(result.standardOutput == "[::1]:9300\n", "\(result)")
                result = try await hosts(cluster, ["--label", label, "--template", "{host_port}:{transport_port}", "--format", "lines"])
                #expect(result.standardOutput == "[::1]:9301\n", "\(result)")
                #expect(try await hosts(cluster, ["--label", label, "--template", "{host}"]).standardOutput == "::1\n")
                #expect(try await watcher.terminate() == 0, "\(watcher.log)")
            }
        }
    }

    @Test func statusShowsInstancesAndTheStartupLease() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("status")
                let healthy = try await StandIn(), sick = try await StandIn()
                try sick.set(status: 500)
                let up = try await startWatcher(cluster, client, label: label, id: "s-1", host: "127.0.0.61", service: healthy, info: "{}")
                let down = try MonitorProcess([
                    "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", "s-2", "--monitor-url", sick.url,
                    "--interval", "300ms", "--timeout", "200ms", "--host-ip", "127.0.0.62",
                ])
                _ = try await client.waitForRecord("/service-monitor/\(label)/instances/s-2", "down") { $0?.state == "down" }
                let lease = try await client.grantLease(ttl: 120)
                _ = try await client.put("/service-monitor/\(label)/startup/holders/s-3", value: "s-3", lease: lease.id)
                _ = try await client.put("/service-monitor/\(label)/startup/queue/s-5", value: "s-5")
                _ = try await client.put("/service-monitor/\(label)/startup/queue/s-4", value: "s-4")

                let monitor = try BuildProducts.executable(named: "service-monitor")
                let json = try await Command.run(monitor, ["status", "--endpoints", cluster.clientURLs[0], "--label", label, "--json"])
                #expect(json.status == 0, "\(json)")
                let report = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
                let labels = try #require(report["labels"] as? [[String: Any]])
                #expect(labels.count == 1)
                let instances = try #require(labels.first?["instances"] as? [[String: Any]])
                #expect(instances.map { $0["service_id"] as? String } == ["s-1", "s-2"])
                #expect(instances.map { $0["state"] as? String } == ["up", "down"])
                #expect((instances.last?["detail"] as? String)?.hasPrefix("HTTP 500 in ") == true)
                let startup = try #require(labels.first?["startup"] as? [String: Any])
                #expect(startup["queue"] as? [String] == ["s-5", "s-4"])
                let holders = try #require(startup["holders"] as? [[String: Any]])
                #expect(holders.first?["service_id"] as? String == "s-3")
                let left = try #require(holders.first?["seconds_left"] as? Int)
                #expect((100...120).contains(left))

                let table = try await Command.run(monitor, ["status", "--endpoints", cluster.clientURLs[0]])
                #expect(table.status == 0)
                #expect(table.standardOutput.contains("\(label)\n"))
                let row = table.standardOutput.split(separator: "\n").first { $0.hasPrefix("  s-1 ") }
                #expect(row?.split(separator: " ").prefix(3) == ["s-1", "127.0.0.61", "up"], "\(table.standardOutput)")
                #expect(table.standardOutput.contains("held by s-3 ("), "\(table.standardOutput)")
                #expect(table.standardOutput.contains("queue: s-5, s-4"), "\(table.standardOutput)")
                _ = try await up.terminate()
                _ = try await down.terminate()
            }
        }
    }
}
