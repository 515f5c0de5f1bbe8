import DynamoDB
import DynamoDBTestSupport
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The commands as real processes with `--backend dynamodb` against moto in server mode: watch,
/// hosts and status; create-table; acquire/release FIFO with a killed waiter; exit codes; and
/// SigV4 through the CLI in moto's IAM mode.
@Suite("DynamoDB end to end", .timeLimit(.minutes(3)))
struct DynamoDBEndToEndTests {
    /// The environment of every command: moto's endpoint and region, these credentials, and
    /// nothing of the test process's own AWS, etcd or service-monitor settings.
    static func environment(_ moto: MotoServer, accessKeyID: String = "AKIDENDTOEND", secret: String = "moto-accepts-any") -> [String: String?] {
        var environment: [String: String?] = ["JOURNAL_STREAM": nil, "NOTIFY_SOCKET": nil, "COREOS_PRIVATE_IPV4": nil]
        for name in ProcessInfo.processInfo.environment.keys
        where name.hasPrefix("AWS_") || name.hasPrefix("ETCDCTL_") || name.hasPrefix("SERVICE_MONITOR_") {
            environment[name] = .some(nil)
        }
        environment["SERVICE_MONITOR_BACKEND"] = "dynamodb"
        environment["AWS_REGION"] = "us-east-1"
        environment["AWS_ENDPOINT_URL_DYNAMODB"] = moto.endpoint
        environment["AWS_ACCESS_KEY_ID"] = accessKeyID
        environment["AWS_SECRET_ACCESS_KEY"] = secret
        // No shared files of the test host.
        environment["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent/credentials"
        environment["AWS_CONFIG_FILE"] = "/nonexistent/config"
        environment["AWS_EC2_METADATA_DISABLED"] = "true"
        return environment
    }

    static func run(_ arguments: [String], _ environment: [String: String?]) async throws -> CommandResult {
        try await Command.run(try BuildProducts.executable(named: "service-monitor"), arguments, environment: environment, timeout: .seconds(30))
    }

    /// `status --json` of one label: instance (id, state) pairs, holders and queue.
    static func status(_ label: String, _ environment: [String: String?]) async throws -> (instances: [String: String], holders: [String], queue: [String]) {
        let result = try await run(["status", "--label", label, "--json"], environment)
        guard result.status == 0 else { throw CommandError(description: "status: \(result)") }
        let json = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        guard let first = (json?["labels"] as? [[String: Any]])?.first else { return ([:], [], []) }
        var instances: [String: String] = [:]
        for record in first["instances"] as? [[String: Any]] ?? [] {
            instances[record["service_id"] as? String ?? ""] = record["state"] as? String
        }
        let startup = first["startup"] as? [String: Any]
        let holders = (startup?["holders"] as? [[String: Any]] ?? []).compactMap { $0["service_id"] as? String }
        return (instances, holders, startup?["queue"] as? [String] ?? [])
    }

    @Test func createTableTwiceThenWatchHostsAndStatus() async throws {
        try await MotoServer.with { moto in
            let environment = Self.environment(moto)
            let created = try await Self.run(["create-table"], environment)
            #expect(created.status == 0, "\(created)")
            #expect(created.standardOutput.hasPrefix("created table service-monitor in us-east-1"), "\(created)")
            let again = try await Self.run(["create-table"], environment)
            #expect(again.status == 0, "\(again)")
            #expect(again.standardOutput.hasPrefix("table service-monitor exists in us-east-1"), "\(again)")

            let service = try await StandIn()
            let label = uniqueLabel("dyn")
            let monitor = try MonitorProcess(
                [
                    "watch", "--label", label, "--service-id", "web-1", "--monitor-url", service.url, "--interval", "300ms",
                    "--timeout", "200ms", "--host-ip", "127.0.0.11", "--ttl", "3s", "--log-target", "console",
                ],
                environment: environment
            )
            let waited = try await Self.run(["hosts", "--label", label, "--min", "1", "--wait", "20s", "--poll-interval", "200ms"], environment)
            #expect(waited.status == 0, "\(waited) \(monitor.log)")
            #expect(waited.standardOutput == "127.0.0.11\n", "\(waited)")
            let json = try await Self.run(["hosts", "--label", label, "--format", "json"], environment)
            #expect(json.standardOutput.contains(#""service_id":"web-1""#), "\(json)")

            try service.set(status: 503)
            try await eventually("web-1 down in status", timeout: .seconds(15), every: .milliseconds(200)) {
                try await Self.status(label, environment).instances == ["web-1": "down"]
            }
            #expect(try await Self.run(["hosts", "--label", label], environment).standardOutput == "")
            #expect(try await Self.run(["hosts", "--label", label, "--min", "1"], environment).status == 1)

            // Renewals keep the 3 s record alive well past its ttl.
            try service.set(status: 200)
            try await Task.sleep(for: .seconds(4))
            #expect(try await Self.status(label, environment).instances == ["web-1": "up"], "\(monitor.log)")

            #expect(try await monitor.terminate() == 0, "\(monitor.log)")
            #expect(try await Self.status(label, environment).instances.isEmpty, "deregistered at once")
        }
    }

    @Test func hostsFormatsMinAndTwoSlotsAsOnEtcd() async throws {
        try await MotoServer.with { moto in
            let environment = Self.environment(moto)
            #expect(try await Self.run(["create-table"], environment).status == 0)
            let label = uniqueLabel("dynformats")
            var monitors: [MonitorProcess] = []
            let services = try await StandIn.several(2)
            for (index, service) in services.enumerated() {
                monitors.append(try MonitorProcess(
                    ["watch", "--label", label, "--service-id", "es-\(index + 1)", "--monitor-url", service.url, "--interval", "300ms",
                     "--timeout", "200ms", "--host-ip", "127.0.0.4\(index + 1)", "--service-info", #"{"transport_port": 930\#(index)}"#,
                     "--log-target", "console"],
                    environment: environment
                ))
                // One after the other, so registration order is known.
                let waited = try await Self.run(["hosts", "--label", label, "--min", "\(index + 1)", "--wait", "20s", "--poll-interval", "100ms"], environment)
                #expect(waited.status == 0, "\(waited) \(monitors[index].log)")
            }
            func hosts(_ options: String...) async throws -> CommandResult {
                try await Self.run(["hosts", "--label", label] + options, environment)
            }
            #expect(try await hosts().standardOutput == "127.0.0.41,127.0.0.42\n")
            #expect(try await hosts("--format", "lines").standardOutput == "127.0.0.41\n127.0.0.42\n")
            #expect(try await hosts("--port", "9200").standardOutput == "127.0.0.41:9200,127.0.0.42:9200\n")
            #expect(try await hosts("--template", "{host}:{transport_port}").standardOutput == "127.0.0.41:9300,127.0.0.42:9301\n")
            let json = try JSONSerialization.jsonObject(with: Data(try await hosts("--format", "json").standardOutput.utf8)) as? [[String: Any]]
            #expect(json?.compactMap { $0["service_id"] as? String } == ["es-1", "es-2"], "\(String(describing: json))")
            #expect(json?.allSatisfy { $0["state"] as? String == "up" } == true)
            let tooFew = try await hosts("--min", "3")
            #expect(tooFew.status == 1 && tooFew.standardOutput.isEmpty, "\(tooFew)")
            #expect(tooFew.standardError == "service-monitor: 2 of at least 3 instances of \(label) are up\n", "\(tooFew)")
            for monitor in monitors { #expect(try await monitor.terminate() == 0, "\(monitor.log)") }
            withExtendedLifetime(services) {}

            // Two slots: two holders at once, the third waits for a release.
            func acquire(_ id: String) throws -> MonitorProcess {
                try MonitorProcess(
                    ["acquire-lease", "--label", label, "--service-id", id, "--slots", "2", "--acquire-timeout", "60s", "--poll-interval", "100ms",
                     "--log-target", "console"],
                    environment: environment
                )
            }
            let first = try acquire("a"), second = try acquire("b")
            #expect(try await first.waitForExit() == 0, "\(first.log)")
            #expect(try await second.waitForExit() == 0, "\(second.log)")
            let third = try acquire("c")
            try await eventually("c queued behind two holders", timeout: .seconds(15), every: .milliseconds(100)) {
                try await Self.status(label, environment).queue == ["c"]
            }
            #expect(try await Self.status(label, environment).holders.sorted() == ["a", "b"])
            #expect(third.isRunning)
            #expect(try await Self.run(["release-lease", "--label", label, "--service-id", "a"], environment).status == 0)
            #expect(try await third.waitForExit(timeout: .seconds(10), "c to take the freed slot") == 0, "\(third.log)")
            #expect(try await Self.status(label, environment).holders.sorted() == ["b", "c"])
        }
    }

    @Test func aWatchWhoseStoreGoesAwayKeepsCheckingAndSaysDynamoDB() async throws {
        let moto = try await MotoServer.start()
        let environment = Self.environment(moto)
        #expect(try await Self.run(["create-table"], environment).status == 0)
        let service = try await StandIn()
        let label = uniqueLabel("dyngone")
        let monitor = try MonitorProcess(
            ["watch", "--label", label, "--service-id", "g-1", "--monitor-url", service.url, "--interval", "300ms", "--timeout", "200ms",
             "--host-ip", "127.0.0.14", "--ttl", "3s", "--command-timeout", "1s", "--log-target", "console"],
            environment: environment
        )
        #expect(try await Self.run(["hosts", "--label", label, "--wait", "20s", "--poll-interval", "200ms"], environment).status == 0, "\(monitor.log)")
        await moto.stop()
        // The renewal (every ttl/3) finds nobody: the log names the store, and the checks go on.
        try await eventually("the outage logged; log: \(monitor.log)", timeout: .seconds(15)) {
            monitor.log.contains("DynamoDB unreachable or registration lost; checks continue and registration is retried")
        }
        let served = try String(contentsOfFile: service.requestLog, encoding: .utf8).split(separator: "\n").count
        try await eventually("checks while DynamoDB is gone", timeout: .seconds(10)) {
            (try String(contentsOfFile: service.requestLog, encoding: .utf8)).split(separator: "\n").count >= served + 3
        }
        #expect(monitor.isRunning, "\(monitor.log)")
        #expect(!monitor.log.contains("etcd"), "the log speaks of etcd: \(monitor.log)")
        #expect(try await monitor.terminate() == 0, "\(monitor.log)")
    }

    @Test func hostsWatchPrintsEveryChangeByPolling() async throws {
        try await MotoServer.with { moto in
            let environment = Self.environment(moto)
            #expect(try await Self.run(["create-table"], environment).status == 0)
            let label = uniqueLabel("dynwatch")
            let outputPath = try EtcdTestPaths.makeTemporaryDirectory(prefix: "hosts-watch") + "/stdout"
            _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
            let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
            let watcher = try Command.start(
                try BuildProducts.executable(named: "service-monitor"), ["hosts", "--label", label, "--watch", "--poll-interval", "100ms"],
                environment: environment, standardOutput: output
            )
            try? output.close()
            func printed() -> String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
            // Nothing up yet: an empty line.
            try await eventually("the first, empty list", timeout: .seconds(10)) { printed() == "\n" }

            let service = try await StandIn()
            let monitor = try MonitorProcess(
                ["watch", "--label", label, "--service-id", "w-1", "--monitor-url", service.url, "--interval", "300ms", "--timeout", "200ms",
                 "--host-ip", "127.0.0.13", "--log-target", "console"],
                environment: environment
            )
            try await eventually("w-1 printed", timeout: .seconds(15)) { printed() == "\n127.0.0.13\n" }
            #expect(try await monitor.terminate() == 0, "\(monitor.log)")
            try await eventually("the empty list again", timeout: .seconds(10)) { printed() == "\n127.0.0.13\n\n" }
            watcher.terminate()
            _ = try await watcher.waitForExit(timeout: .seconds(10))
        }
    }

    @Test func aKilledWatchersRecordExpiresWithItsTTL() async throws {
        try await MotoServer.with { moto in
            let environment = Self.environment(moto)
            #expect(try await Self.run(["create-table"], environment).status == 0)
            let service = try await StandIn()
            let label = uniqueLabel("dynkill")
            let monitor = try MonitorProcess(
                ["watch", "--label", label, "--service-id", "k-1", "--monitor-url", service.url, "--interval", "300ms", "--timeout", "200ms",
                 "--host-ip", "127.0.0.12", "--ttl", "3s", "--log-target", "console"],
                environment: environment
            )
            #expect(try await Self.run(["hosts", "--label", label, "--wait", "20s", "--poll-interval", "200ms"], environment).status == 0, "\(monitor.log)")
            monitor.process.send(SIGKILL)
            _ = try await monitor.waitForExit()
            let killed = ContinuousClock.now
            // moto never deletes by TTL: the readers' own filter drops the record.
            try await eventually("k-1 gone after its ttl", timeout: .seconds(10), every: .milliseconds(200)) {
                try await Self.run(["hosts", "--label", label], environment).standardOutput.isEmpty
            }
            #expect(ContinuousClock.now - killed <= .seconds(6))
        }
    }

    @Test func acquireAndReleaseAreFIFOAndAKilledWaiterStopsBlocking() async throws {
        try await MotoServer.with { moto in
            let environment = Self.environment(moto)
            #expect(try await Self.run(["create-table"], environment).status == 0)
            let label = uniqueLabel("dynlease")
            func acquire(_ id: String) throws -> MonitorProcess {
                try MonitorProcess(
                    ["acquire-lease", "--label", label, "--service-id", id, "--acquire-timeout", "60s", "--poll-interval", "100ms", "--log-target", "console"],
                    environment: environment
                )
            }
            func release(_ id: String) async throws -> CommandResult {
                try await Self.run(["release-lease", "--label", label, "--service-id", id], environment)
            }
            let first = try acquire("a")
            #expect(try await first.waitForExit() == 0, "\(first.log)")
            var waiters: [MonitorProcess] = []
            for (index, id) in ["b", "doomed", "c"].enumerated() {
                waiters.append(try acquire(id))
                try await eventually("\(id) queued", timeout: .seconds(15), every: .milliseconds(100)) {
                    try await Self.status(label, environment).queue.count == index + 1
                }
            }
            #expect(try await Self.status(label, environment).queue == ["b", "doomed", "c"])
            #expect(try await Self.status(label, environment).holders == ["a"])

            #expect(try await release("a").standardOutput == "released startup lease of a for \(label)\n")
            #expect(try await waiters[0].waitForExit(timeout: .seconds(10), "b to acquire") == 0, "\(waiters[0].log)")
            #expect(waiters[1].isRunning && waiters[2].isRunning)

            // kill -9 of the waiter next in line: its queue item expires (9 s), then c moves up.
            waiters[1].process.send(SIGKILL)
            _ = try await waiters[1].waitForExit()
            let killed = ContinuousClock.now
            #expect(try await release("b").status == 0)
            #expect(try await waiters[2].waitForExit(timeout: .seconds(20), "c to acquire past the killed waiter") == 0, "\(waiters[2].log)")
            #expect(ContinuousClock.now - killed <= .seconds(12))
            #expect(try await Self.status(label, environment).holders == ["c"])
            #expect(try await release("c").status == 0)
            #expect(try await release("c").standardOutput == "c held no startup lease for \(label)\n")
        }
    }

    @Test func exitCodesForAMissingTableAndAnUnreachableEndpoint() async throws {
        try await MotoServer.with { moto in
            let environment = Self.environment(moto)
            let missing = try await Self.run(["status", "--dynamodb-table", "no-such-table"], environment)
            #expect(missing.status == 78, "\(missing)")
            #expect(missing.standardError.contains("create-table"), "\(missing)")
            #expect(missing.standardError.split(separator: "\n").count == 1, "\(missing)")

            let port = try EtcdFreePorts.take(1)[0]
            var unreachable = environment
            unreachable["AWS_ENDPOINT_URL_DYNAMODB"] = "http://127.0.0.1:\(port)"
            let nobody = try await Self.run(["hosts", "--label", "web", "--command-timeout", "1s"], unreachable)
            #expect(nobody.status == 69, "\(nobody)")
            #expect(nobody.standardError.split(separator: "\n").count == 1, "\(nobody)")

            var noRegion = environment
            noRegion["AWS_REGION"] = .some(nil)
            let regionless = try await Self.run(["status"], noRegion)
            #expect(regionless.status == 78, "\(regionless)")
            #expect(regionless.standardError.contains("no AWS region"), "\(regionless)")
        }
    }

    // MARK: SigV4 in moto's IAM mode

    @Test func theRightKeyWorksAndAWrongSecretExits77() async throws {
        // The first three calls (the IAM set-up) need no authentication; every later one does.
        try await MotoServer.with(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"]) { moto in
            let user = try await moto.createIAMUser()
            let accessKeyID = user.accessKeyID, secret = user.secretAccessKey

            let right = Self.environment(moto, accessKeyID: accessKeyID, secret: secret)
            let created = try await Self.run(["create-table"], right)
            #expect(created.status == 0, "\(created)")
            let acquired = try await Self.run(["acquire-lease", "--label", "iam", "--service-id", "s-1"], right)
            #expect(acquired.status == 0, "\(acquired)")
            #expect(try await Self.status("iam", right).holders == ["s-1"])

            let wrong = try await Self.run(["status"], Self.environment(moto, accessKeyID: accessKeyID, secret: "not-" + secret))
            #expect(wrong.status == 77, "\(wrong)")
            #expect(wrong.standardError.split(separator: "\n").count == 1, "\(wrong)")
            #expect(!wrong.standardError.contains(secret) && !wrong.standardOutput.contains(secret), "shows the secret: \(wrong)")

            let unknown = try await Self.run(["hosts", "--label", "iam"], Self.environment(moto, accessKeyID: "AKIAUNKNOWNKEY000000", secret: secret))
            #expect(unknown.status == 77, "\(unknown)")
        }
    }

}
