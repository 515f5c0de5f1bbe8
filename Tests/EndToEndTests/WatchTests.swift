import Etcd
import Foundation
import Testing
import TestSupport

/// `service-monitor watch` as a real process against a real etcd and a real HTTP service.
@Suite("watch", .timeLimit(.minutes(2)))
struct WatchTests {
    @Test func registersTransitionsOnlyAndDeregistersOnSIGTERM() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let service = try await StandIn()
                let label = uniqueLabel("web")
                let key = "/service-monitor/\(label)/instances/web-1"
                let monitor = try MonitorProcess([
                    "watch", "--endpoints", cluster.clientURLs[0], "--label", label.uppercased(), "--service-id", "web-1",
                    "--monitor-url", service.url, "--interval", "300ms", "--timeout", "200ms", "--host-ip", "127.0.0.11",
                    "--log-target", "console",
                ])

                let up = try #require(try await client.waitForRecord(key, "up") { $0?.state == "up" }, "\(monitor.log)")
                #expect(up.host == "127.0.0.11")
                #expect(up.serviceID == "web-1")
                #expect(up.detail?.hasPrefix("HTTP 200 in ") == true)
                #expect(up.info as? [String: String] == ["name": "web-1"])
                #expect(up.lease != 0)

                // Steady state: checks keep running, the store sees no write.
                let requestsBefore = service.served.count
                let revisionBefore = try await client.currentRevision()
                try await eventually("five more checks") { service.served.count >= requestsBefore + 5 }
                #expect(try await client.currentRevision() == revisionBefore)

                try service.set(status: 503)
                let down = try #require(try await client.waitForRecord(key, "down") { $0?.state == "down" })
                #expect(down.detail?.hasPrefix("HTTP 503 in ") == true)
                #expect(down.lease == up.lease)

                try service.set(status: 200)
                let upAgain = try #require(try await client.waitForRecord(key, "up again") { $0?.state == "up" })
                #expect(upAgain.modRevision > down.modRevision)

                // SIGTERM: deregistered at once (the lease is revoked), exit 0.
                #expect(try await monitor.terminate() == 0, "\(monitor.log)")
                #expect(try await client.range(.key(key)).kvs.isEmpty)
                #expect(monitor.log.contains("MESSAGE_ID=6e9f0a1b2c3d4e5f8a7b6c5d4e3f2a1b"), "no deregistered entry: \(monitor.log)")
            }
        }
    }

    @Test func aCommandCheckFollowsAFileSeenThroughHosts() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("cmd")
                let key = "/service-monitor/\(label)/instances/cmd-1"
                let marker = FileManager.default.temporaryDirectory
                    .appendingPathComponent("service-monitor-\(label)-ready").path
                defer { try? FileManager.default.removeItem(atPath: marker) }
                let monitor = try MonitorProcess([
                    "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", "cmd-1",
                    "--monitor-command", "sh -c 'test -e \"$0\" && echo ready' '\(marker)'",
                    "--interval", "2s", "--timeout", "1500ms", "--host-ip", "127.0.0.21", "--log-target", "console",
                ])
                func hosts() async throws -> String {
                    try await Command.run(
                        try BuildProducts.executable(named: "service-monitor"),
                        ["hosts", "--endpoints", cluster.clientURLs[0], "--label", label],
                        environment: ["JOURNAL_STREAM": nil]
                    ).standardOutput
                }

                let down = try #require(try await client.waitForRecord(key, "down") { $0?.state == "down" }, "\(monitor.log)")
                #expect(down.detail == "command exited 1", "\(monitor.log)")
                #expect(try await !hosts().contains("127.0.0.21"))

                #expect(FileManager.default.createFile(atPath: marker, contents: Data()))
                let up = try #require(try await client.waitForRecord(key, "up") { $0?.state == "up" }, "\(monitor.log)")
                #expect(up.detail?.hasPrefix("command exited 0 in ") == true, "\(String(describing: up.detail))")
                #expect(up.detail?.hasSuffix(": ready") == true, "\(String(describing: up.detail))")
                #expect(try await hosts() == "127.0.0.21\n")

                try FileManager.default.removeItem(atPath: marker)
                _ = try #require(try await client.waitForRecord(key, "down again") { $0?.state == "down" }, "\(monitor.log)")
                #expect(try await !hosts().contains("127.0.0.21"))

                #expect(try await monitor.terminate() == 0, "\(monitor.log)")
            }
        }
    }

    @Test func anHTTPAndACommandCheckMustBothPassAndTheFailingOneIsNamed() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let service = try await StandIn()
                let label = uniqueLabel("multi")
                let key = "/service-monitor/\(label)/instances/m-1"
                let marker = FileManager.default.temporaryDirectory
                    .appendingPathComponent("service-monitor-\(label)-synced").path
                defer { try? FileManager.default.removeItem(atPath: marker) }
                let monitor = try MonitorProcess([
                    "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", "m-1",
                    "--monitor-url", service.url, "--monitor-command", "test -e \(marker)",
                    "--interval", "1s", "--timeout", "800ms", "--host-ip", "127.0.0.22", "--log-target", "console",
                ])
                func statusDetail() async throws -> String? {
                    let json = try await Command.run(
                        try BuildProducts.executable(named: "service-monitor"),
                        ["status", "--endpoints", cluster.clientURLs[0], "--label", label, "--json"],
                        environment: ["JOURNAL_STREAM": nil]
                    )
                    let report = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any]
                    let labels = report?["labels"] as? [[String: Any]]
                    let instances = labels?.first?["instances"] as? [[String: Any]]
                    return instances?.first?["detail"] as? String
                }

                // The http check passes, the command check does not: down, naming the command.
                let down = try #require(try await client.waitForRecord(key, "down") { $0?.state == "down" }, "\(monitor.log)")
                #expect(down.detail == "test -e \(marker): command exited 1", "\(monitor.log)")
                #expect(try await statusDetail() == "test -e \(marker): command exited 1")

                #expect(FileManager.default.createFile(atPath: marker, contents: Data()))
                let up = try #require(try await client.waitForRecord(key, "up") { $0?.state == "up" }, "\(monitor.log)")
                let upDetail = try #require(up.detail)
                #expect(upDetail.hasPrefix("\(service.url): HTTP 200 in "), "\(upDetail)")
                #expect(upDetail.contains("; test -e \(marker): command exited 0 in "), "\(upDetail)")

                // Now the http check fails while the command check passes: down, naming the URL only.
                try service.set(status: 503)
                let httpDown = try #require(try await client.waitForRecord(key, "down on 503") { $0?.state == "down" }, "\(monitor.log)")
                let downDetail = try #require(httpDown.detail)
                #expect(downDetail.hasPrefix("\(service.url): HTTP 503 in "), "\(downDetail)")
                #expect(!downDetail.contains("test -e"), "\(downDetail)")
                #expect(try await statusDetail() == downDetail)
                // The journal entry of the transition names it too.
                try await eventually("the down entry naming the URL") { monitor.log.contains("m-1 is down: \(service.url): HTTP 503 in ") }

                #expect(try await monitor.terminate() == 0, "\(monitor.log)")
            }
        }
    }

    /// etcd serves the standard gRPC health service (`""` is SERVING), so its members are real
    /// gRPC servers to check: over plaintext, in TLS with `--check-cacert`, and about a service
    /// etcd does not know.
    @Test func grpcChecksAskARealServersHealthService() async throws {
        let certificates = try await EtcdTestCertificates.make()
        defer { certificates.remove() }
        let tls = EtcdCluster.TLS(certificates: certificates, requireClientCertificates: false)
        try await EtcdCluster.with(members: 1) { cluster in
            try await EtcdCluster.with(members: 1, tls: tls) { secureCluster in
                try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                    let label = uniqueLabel("grpc")
                    let plain = cluster.clientURLs[0].replacing("http://", with: "grpc://", maxReplacements: 1)
                    let secure = secureCluster.clientURLs[0].replacing("https://", with: "grpcs://", maxReplacements: 1)
                    let checks: [(id: String, arguments: [String])] = [
                        ("grpc-1", ["--monitor-url", plain]),
                        ("grpc-2", ["--monitor-url", secure, "--check-cacert", certificates.caFile]),
                        ("grpc-3", ["--monitor-url", "\(plain)/no.Such.Service"]),
                    ]
                    var monitors: [MonitorProcess] = []
                    for check in checks {
                        monitors.append(try MonitorProcess([
                            "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", check.id,
                            "--interval", "2s", "--timeout", "1s", "--host-ip", "127.0.0.31", "--log-target", "console",
                        ] + check.arguments))
                    }
                    let log = { monitors.map(\.log).joined(separator: "\n") }
                    let key = { (id: String) in "/service-monitor/\(label)/instances/\(id)" }

                    let plainUp = try #require(try await client.waitForRecord(key("grpc-1"), "grpc up") { $0?.state == "up" }, "\(log())")
                    #expect(plainUp.detail?.hasPrefix("gRPC SERVING in ") == true, "\(String(describing: plainUp.detail))")
                    let secureUp = try #require(try await client.waitForRecord(key("grpc-2"), "grpcs up") { $0?.state == "up" }, "\(log())")
                    #expect(secureUp.detail?.hasPrefix("gRPC SERVING in ") == true, "\(String(describing: secureUp.detail))")
                    let unknown = try #require(try await client.waitForRecord(key("grpc-3"), "unknown service down") { $0?.state == "down" }, "\(log())")
                    #expect(unknown.detail?.hasPrefix("gRPC not found: ") == true, "\(String(describing: unknown.detail))")

                    for monitor in monitors {
                        #expect(try await monitor.terminate() == 0, "\(monitor.log)")
                    }
                }
            }
        }
    }

    @Test func sighupDeregistersAtOnceLikeSIGTERM() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let service = try await StandIn()
                let label = uniqueLabel("hup")
                let key = "/service-monitor/\(label)/instances/hup-1"
                let monitor = try MonitorProcess([
                    "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", "hup-1",
                    "--monitor-url", service.url, "--interval", "300ms", "--timeout", "200ms", "--ttl", "60s",
                    "--host-ip", "127.0.0.11", "--log-target", "console",
                ])
                _ = try #require(try await client.waitForRecord(key, "up") { $0?.state == "up" }, "\(monitor.log)")

                // The lease is revoked, not left to run out its 60s ttl.
                let hungUp = ContinuousClock.now
                monitor.hangUp()
                #expect(try await monitor.waitForExit(timeout: .seconds(10), "watch to exit on SIGHUP") == 0, "\(monitor.log)")
                #expect(ContinuousClock.now - hungUp < .seconds(10))
                #expect(try await client.range(.key(key)).kvs.isEmpty, "record left behind after SIGHUP")
                #expect(monitor.log.contains("MESSAGE_ID=6e9f0a1b2c3d4e5f8a7b6c5d4e3f2a1b"), "no deregistered entry: \(monitor.log)")
            }
        }
    }

    @Test func riseAndFallNeedConsecutiveResults() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let service = try await StandIn()
                let label = uniqueLabel("rise")
                let key = "/service-monitor/\(label)/instances/r-1"
                let monitor = try MonitorProcess([
                    "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", "r-1",
                    "--monitor-url", service.url, "--interval", "400ms", "--timeout", "200ms", "--rise", "2", "--fall", "3",
                    "--host-ip", "127.0.0.12", "--log-target", "console",
                ])
                _ = try await client.waitForRecord(key, "up") { $0?.state == "up" }
                // Up only after two good checks.
                #expect(service.served.count >= 2, "up after \(service.served)\n\(monitor.log)")
                // Registered after the first check already, as not (yet) up: etcd's history has it.
                let current = try #require(try await client.get(key))
                var options = RangeOptions()
                options.revision = current.createRevision
                let first = try StoredRecord(try #require(try await client.range(.key(key), options: options).kvs.first))
                #expect(first.state == "down")
                #expect(first.detail?.hasPrefix("starting: HTTP 200 in ") == true, "\(first.json)")

                try service.set(status: 503)
                let okBefore = service.served.count
                _ = try await client.waitForRecord(key, "down") { $0?.state == "down" }
                let failures = service.served.dropFirst(okBefore).filter { $0 == 503 }.count
                #expect(failures >= 3, "down after \(failures) failed checks")
                _ = try await monitor.terminate()
            }
        }
    }

    @Test func storesServiceInfoAsGiven() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("info")
                let base = ["watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", "es-1", "--host-ip", "127.0.0.13"]
                let service = try await StandIn()
                let process = try MonitorProcess(base + [
                    "--monitor-url", service.url, "--interval", "500ms", "--timeout", "200ms",
                    "--service-info", #"{"http_port": 9200, "transport_port": 9300, "name": "es-1", "tags": ["a", "b"]}"#,
                ])
                let record = try #require(try await client.waitForRecord("/service-monitor/\(label)/instances/es-1", "up") { $0?.state == "up" })
                #expect(record.info?["transport_port"] as? Int == 9300)
                #expect(record.info?["http_port"] as? Int == 9200)
                #expect(record.info?["tags"] as? [String] == ["a", "b"])
                _ = try await process.terminate()
            }
        }
    }

    @Test func aKilledWatchersRecordVanishesWithinItsTTL() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let service = try await StandIn()
                let label = uniqueLabel("kill")
                let key = "/service-monitor/\(label)/instances/k-1"
                let monitor = try MonitorProcess([
                    "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", "k-1",
                    "--monitor-url", service.url, "--interval", "1s", "--timeout", "200ms", "--ttl", "3s", "--host-ip", "127.0.0.14",
                ])
                _ = try await client.waitForRecord(key, "up") { $0?.state == "up" }
                await monitor.kill9()
                let killed = ContinuousClock.now
                _ = try await client.waitForRecord(key, timeout: .seconds(10), "gone") { $0 == nil }
                let gone = ContinuousClock.now - killed
                // etcd expires leases on its own clock: at most the TTL plus its checking slack.
                #expect(gone <= .milliseconds(4500), "record lingered \(gone) after kill -9")
            }
        }
    }

    @Test func keepsCheckingWhileEtcdIsDownAndRegistersAgainWhenItReturns() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let service = try await StandIn()
            let label = uniqueLabel("outage")
            let key = "/service-monitor/\(label)/instances/o-1"
            let monitor = try MonitorProcess([
                "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", "o-1",
                "--monitor-url", service.url, "--interval", "300ms", "--timeout", "200ms", "--ttl", "3s",
                "--command-timeout", "1s", "--host-ip", "127.0.0.15", "--log-target", "console",
            ])
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                _ = try await client.waitForRecord(key, "up") { $0?.state == "up" }
            }
            await cluster.kill(member: 0)
            // The monitor notices, says so, and keeps checking.
            try await eventually("the monitor to report etcd unreachable") {
                monitor.log.contains("MESSAGE_ID=7fa01b2c3d4e4f5a9b8c7d6e5f4a3b2c")
            }
            let served = service.served.count
            try await eventually("checks to continue during the outage") { service.served.count >= served + 3 }
            try service.set(status: 503)
            #expect(monitor.process.isRunning)

            try await cluster.restart(member: 0)
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                // Back with the state it saw during the outage.
                let record = try await client.waitForRecord(key, "down after the outage") { $0?.state == "down" }
                #expect(record?.detail?.hasPrefix("HTTP 503") == true)

                // Registered once, then quiet: several checks later nothing was written again.
                let revision = try await client.currentRevision()
                let checked = service.served.count
                try await eventually("checks after the return") { service.served.count >= checked + 4 }
                #expect(try await client.currentRevision() == revision, "writes in steady state after the outage")
                let restored = monitor.log.components(separatedBy: "MESSAGE_ID=80b12c3d4e5f4a6b8c9d0e1f2a3b4c5d").count - 1
                #expect(restored == 1, "registered anew \(restored) times:\n\(monitor.log)")

                // A transition after the outage still reaches etcd.
                try service.set(status: 200)
                _ = try await client.waitForRecord(key, "up after the outage") { $0?.state == "up" }
            }
            #expect(try await monitor.terminate() == 0)
        }
    }
}
