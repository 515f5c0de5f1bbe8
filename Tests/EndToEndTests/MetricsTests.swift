import Etcd
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `--metrics-address` (docs/metrics.md): a real Prometheus scrapes a real `watch`; `promtool`
/// judges the format; `wrk` loads the endpoint.
@Suite("metrics", .timeLimit(.minutes(3)))
struct MetricsTests {
    @Test func prometheusSeesTheCheckGoDownAndUpAndCountsTheTransitions() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let service = try await StandIn()
            let label = uniqueLabel("metrics")
            let port = try EtcdFreePorts.take(1)[0]
            let monitor = try MonitorProcess([
                "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", "web-1",
                "--monitor-url", service.url, "--interval", "300ms", "--timeout", "200ms", "--host-ip", "127.0.0.31",
                "--log-target", "console", "--metrics-address", "127.0.0.1:\(port)",
            ])
            try await PrometheusServer.with(scraping: ["127.0.0.1:\(port)"]) { prometheus in
                let series = #"{label="\#(label)",service_id="web-1"}"#
                func value(_ metric: String) async throws -> Double? {
                    try await prometheus.value(metric + series)
                }
                func waitFor(_ metric: String, toBe expected: Double) async throws {
                    try await eventually("\(metric) = \(expected) in Prometheus; log: \(monitor.log)") {
                        try await value(metric) == expected
                    }
                }

                try await waitFor("service_monitor_check_success", toBe: 1)
                try await waitFor("service_monitor_up", toBe: 1)
                #expect(try await value("service_monitor_check_http_status_code") == 200)
                #expect(try await value("service_monitor_store_up") == 1)
                #expect(try await value("service_monitor_registrations_total") == 1)
                #expect(try await value("service_monitor_startup_lease_held") == 0)
                #expect(try await value("service_monitor_store_errors_total") == 0)
                // Prometheus' own view of the target: scraped and healthy.
                #expect(try await prometheus.value(#"up{job="service-monitor"}"#) == 1)
                let build = try await prometheus.query("service_monitor_build_info")
                #expect(build.count == 1 && build.first?.value == 1 && build.first?.labels["version"]?.isEmpty == false, "\(build)")

                try service.set(status: 503)
                try await waitFor("service_monitor_check_success", toBe: 0)
                try await waitFor("service_monitor_up", toBe: 0)
                #expect(try await value("service_monitor_check_http_status_code") == 503)

                try service.set(status: 200)
                try await waitFor("service_monitor_check_success", toBe: 1)
                try await waitFor("service_monitor_up", toBe: 1)
                // starting → up, up → down, down → up.
                try await waitFor("service_monitor_transitions_total", toBe: 3)
                // The histogram counts every check; its sum is in seconds (each check well under one).
                let checks = try #require(try await value("service_monitor_check_duration_seconds_count"))
                let seconds = try #require(try await value("service_monitor_check_duration_seconds_sum"))
                #expect(checks >= 3 && seconds > 0 && seconds / checks < 0.2, "count \(checks), sum \(seconds)")
                #expect(try await value("service_monitor_registrations_total") == 1)
            }
            #expect(try await monitor.terminate() == 0, "\(monitor.log)")
        }
    }

    @Test func anEtcdOutageShowsAsStoreDownAndTheNewRegistrationIsCounted() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let service = try await StandIn()
            let port = try EtcdFreePorts.take(1)[0]
            let monitor = try MonitorProcess([
                "watch", "--endpoints", cluster.clientURLs[0], "--label", uniqueLabel("outage"), "--service-id", "web-1",
                "--monitor-url", service.url, "--interval", "200ms", "--timeout", "150ms", "--ttl", "2s",
                "--host-ip", "127.0.0.36", "--log-target", "console", "--metrics-address", "127.0.0.1:\(port)",
            ])
            func value(_ metric: String) async throws -> Double? { try await Self.scraped(metric, port: port) }
            try await eventually("registered and up; log: \(monitor.log)") {
                let up = try? await value("service_monitor_up")
                let storeUp = try? await value("service_monitor_store_up")
                return up == 1 && storeUp == 1
            }
            #expect(try await value("service_monitor_registrations_total") == 1)

            await cluster.kill(member: 0)
            try await eventually("store_up 0 with etcd down; log: \(monitor.log)") { try await value("service_monitor_store_up") == 0 }
            #expect(try await value("service_monitor_store_errors_total") ?? 0 >= 1)
            // The checks go on meanwhile, and so does their metric.
            let checks = try #require(try await value("service_monitor_check_duration_seconds_count"))
            try await eventually("checks while etcd is down") { try await value("service_monitor_check_duration_seconds_count") ?? 0 >= checks + 3 }

            try await cluster.restart(member: 0)
            try await eventually("store_up 1 after the restart; log: \(monitor.log)") { try await value("service_monitor_store_up") == 1 }
            #expect(try await value("service_monitor_registrations_total") ?? 0 >= 2)
            #expect(try await value("service_monitor_up") == 1)
            #expect(try await monitor.terminate() == 0, "\(monitor.log)")
        }
    }

    @Test func promtoolAcceptsTheOutputAndOnlyMetricsIsServed() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let services = try await StandIn.several(2)
            let port = try EtcdFreePorts.take(1)[0]
            let monitor = try MonitorProcess([
                "watch", "--endpoints", cluster.clientURLs[0], "--label", uniqueLabel("promtool"), "--service-id", "db-1",
                "--monitor-url", services[0].url, "--monitor-url", "tcp://127.0.0.1:\(services[1].port)",
                "--interval", "300ms", "--timeout", "200ms", "--host-ip", "127.0.0.32", "--log-target", "console",
                "--metrics-address", "127.0.0.1:\(port)",
            ])
            let scrape = try await eventually("a scrape with a check result; log: \(monitor.log)") { () -> HTTPFetch.Response? in
                let response = try? await HTTPFetch.get(port: port, path: "/metrics")
                return response?.body.contains("service_monitor_check_duration_seconds_count") == true ? response : nil
            }
            #expect(scrape.status == 200)
            #expect(scrape.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8", "\(scrape.headers)")
            // Two checks: each its own series, labelled with the target as given.
            #expect(scrape.body.contains(#"check="tcp://127.0.0.1:\#(services[1].port)""#), "\(scrape.body)")
            #expect(scrape.body.contains(#"check="\#(services[0].url)""#), "\(scrape.body)")
            for metric in ["service_monitor_check_success", "service_monitor_up", "service_monitor_transitions_total"] {
                #expect(scrape.body.contains("# HELP \(metric) "), "no help for \(metric)")
            }

            let promtool = try await Command.run("promtool", ["check", "metrics"], standardInput: scrape.body)
            #expect(promtool.status == 0, "promtool: \(promtool)")
            #expect(promtool.standardOutput.isEmpty && promtool.standardError.isEmpty, "promtool: \(promtool)")
            try await documentationMatches(scrape.body)

            for path in ["/", "/metrics/", "/debug", "/../etc/passwd", "/metricsx"] {
                let response = try await HTTPFetch.get(port: port, path: path)
                #expect(response.status == 404, "\(path): \(response.status)")
                #expect(!response.body.contains("service_monitor"), "\(path) served metrics")
            }
            let post = try await HTTPFetch.get(port: port, path: "/metrics", method: "POST")
            #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD", "\(post)")
            let head = try await HTTPFetch.get(port: port, path: "/metrics", method: "HEAD")
            #expect(head.status == 200 && head.body.isEmpty, "\(head)")
            #expect(try await HTTPFetch.get(port: port, path: "/metrics?format=text").status == 200)

            // Listening only where told: loopback, not every address.
            // (ss, not /proc/net/tcp: with the other suites' sockets that file outgrows one read.)
            let listening = try await Command.output("ss", ["-Hltn", "sport = :\(port)"])
            let sockets = listening.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            #expect(sockets.count == 1 && sockets.first?[3] == "127.0.0.1:\(port)", "not only on 127.0.0.1:\(port): \(listening)")

            // A second watch asking for the same port: exit 78, one line, nothing registered.
            let second = try await Command.run(
                try BuildProducts.executable(named: "service-monitor"),
                [
                    "watch", "--endpoints", cluster.clientURLs[0], "--label", "taken", "--service-id", "t-1",
                    "--monitor-url", services[0].url, "--host-ip", "127.0.0.33", "--metrics-address", "127.0.0.1:\(port)",
                ],
                environment: ["JOURNAL_STREAM": nil, "NOTIFY_SOCKET": nil], timeout: .seconds(20)
            )
            #expect(second.status == 78, "\(second)")
            #expect(second.standardError == "service-monitor: --metrics-address: cannot listen on 127.0.0.1:\(port): address already in use\n", "\(second)")
            let stored = try await cluster.etcdctl(["get", "--prefix", "--keys-only", "/service-monitor/taken/"])
            #expect(stored.isEmpty, "registered although the port was taken: \(stored)")

            #expect(try await monitor.terminate() == 0, "\(monitor.log)")
        }
    }

    @Test func twoHundredConcurrentScrapersLeaveTheCheckLoopOnTimeAndMemoryFlat() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let service = try await StandIn()
            let port = try EtcdFreePorts.take(1)[0]
            let interval = 0.2
            let monitor = try MonitorProcess([
                "watch", "--endpoints", cluster.clientURLs[0], "--label", uniqueLabel("wrk"), "--service-id", "web-1",
                "--monitor-url", service.url, "--interval", "200ms", "--timeout", "150ms", "--host-ip", "127.0.0.34",
                "--log-target", "console", "--metrics-address", "127.0.0.1:\(port)",
            ])
            let pid = monitor.process.processIdentifier
            func checksRun() async throws -> Double {
                try await Self.scraped("service_monitor_check_duration_seconds_count", port: port) ?? 0
            }
            func wrk(seconds: Int) async throws -> String {
                let result = try await Command.run(
                    // Prometheus' own default scrape_timeout.
                    "wrk", ["-t", "2", "-c", "200", "-d", "\(seconds)s", "--timeout", "10s", "http://127.0.0.1:\(port)/metrics"],
                    timeout: .seconds(Double(seconds) + 30)
                )
                #expect(result.status == 0, "wrk: \(result)")
                return result.standardOutput
            }
            // Listening before the first store call, but the process may not be there yet.
            try await eventually("the first checks; log: \(monitor.log)") { (try? await checksRun()).map { $0 >= 2 } ?? false }
            let descriptorsBefore = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count

            // A first round lets the allocator and NIO's buffers reach their working size.
            _ = try await wrk(seconds: 3)
            let residentBefore = try residentKiB(pid)

            #expect(monitor.isRunning, "\(monitor.log)")
            let countBefore = try await checksRun()
            let started = ContinuousClock.now
            let output = try await wrk(seconds: 8)
            let elapsed = ContinuousClock.now - started
            let countAfter = try await checksRun()
            let residentAfter = try residentKiB(pid)

            let requests = output.split(separator: "\n").first { $0.contains("requests in") }
                .flatMap { $0.split(separator: " ").first }.flatMap { Int($0) } ?? 0
            #expect(requests > 2_000, "wrk: \(output)")
            #expect(!output.contains("Non-2xx"), "wrk saw errors: \(output)")
            // No connection refused, reset or cut short. On two cores shared with the other
            // suites (a container build, say), a few of 200 connections can wait past the
            // timeout (16 of 9 236 requests once at 5 s); more than 1 % would be starvation.
            // wrk's line, when there were any: "Socket errors: connect 0, read 0, write 0, timeout 16".
            let errorWords = output.split(separator: "\n").first { $0.contains("Socket errors:") }?
                .split(whereSeparator: { $0 == " " || $0 == "," }) ?? []
            func socketErrors(_ kind: String) -> Int {
                errorWords.firstIndex(of: Substring(kind)).flatMap { $0 + 1 < errorWords.count ? Int(errorWords[$0 + 1]) : nil } ?? 0
            }
            #expect(socketErrors("connect") + socketErrors("read") + socketErrors("write") == 0, "wrk saw socket errors: \(output)")
            #expect(socketErrors("timeout") * 100 < max(requests, 1), "wrk saw timeouts: \(output)")
            // No missed interval: every 200 ms a check ran while the endpoint was under load
            // (one interval of slack for where the two scrapes fall between checks).
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let expected = seconds / interval
            #expect(countAfter - countBefore >= expected - 1.5, "\(countAfter - countBefore) checks in \(seconds) s, expected \(expected); \(output)")
            #expect(residentAfter - residentBefore < 4_096, "RSS \(residentBefore) → \(residentAfter) KiB")
            // wrk's connections are gone once it has: no descriptor leaks.
            try await eventually("connections closed") {
                try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count <= descriptorsBefore + 2
            }
            #expect(try await monitor.terminate() == 0, "\(monitor.log)")
        }
    }

    @Test func runReportsTheStartupLeaseUntilItsFirstUp() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let service = try await StandIn()
            try service.set(status: 503)
            let port = try EtcdFreePorts.take(1)[0]
            let monitor = try MonitorProcess([
                "run", "--endpoints", cluster.clientURLs[0], "--label", uniqueLabel("run-metrics"), "--service-id", "r-1",
                "--monitor-url", service.url, "--interval", "200ms", "--timeout", "150ms", "--host-ip", "127.0.0.35",
                "--log-target", "console", "--metrics-address", "127.0.0.1:\(port)", "--", "/bin/sleep", "60",
            ])
            func value(_ metric: String) async throws -> Double? { try await Self.scraped(metric, port: port) }
            try await eventually("the lease held while down; log: \(monitor.log)") {
                let held = try? await value("service_monitor_startup_lease_held")
                let success = try? await value("service_monitor_check_success")
                return held == 1 && success == 0
            }
            #expect(try await value("service_monitor_up") == 0)
            try service.set(status: 200)
            try await eventually("the lease released at the first up; log: \(monitor.log)") {
                try await value("service_monitor_startup_lease_held") == 0
            }
            #expect(try await value("service_monitor_up") == 1)
            // SIGTERM goes on to the child, whose status (128 + 15) is run's.
            #expect(try await monitor.terminate() == 143, "\(monitor.log)")
        }
    }

    /// docs/metrics.md lists exactly the metrics served, and its scrape configuration and alert
    /// rules are what promtool accepts.
    private func documentationMatches(_ scrape: String) async throws {
        let page = try String(contentsOf: DocumentationTests.repository.appendingPathComponent("docs/metrics.md"), encoding: .utf8)
        let served = Set(scrape.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) })
        let documented = Set(page.split(separator: "\n").filter { $0.hasPrefix("| `service_monitor_") }.map {
            String($0.dropFirst(3).prefix { $0 != "`" })
        })
        #expect(served.count == 10 && served == documented, "served \(served.sorted()), documented \(documented.sorted())")

        let blocks = page.components(separatedBy: "```yaml\n").dropFirst().map { $0.components(separatedBy: "```")[0] }
        try #require(blocks.count == 2, "docs/metrics.md: expected a scrape configuration and the rules")
        let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "metrics-docs")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try blocks[0].write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        try blocks[1].write(toFile: directory + "/rules.yml", atomically: true, encoding: .utf8)
        let config = try await Command.run("promtool", ["check", "config", directory + "/prometheus.yml"])
        #expect(config.status == 0, "docs/metrics.md scrape configuration: \(config)")
        let rules = try await Command.run("promtool", ["check", "rules", directory + "/rules.yml"])
        #expect(rules.status == 0 && rules.standardOutput.contains("SUCCESS: 2 rules found"), "docs/metrics.md rules: \(rules)")
    }

    /// The value of the first series of `metric` in one scrape of the endpoint; `nil` if it has none.
    private static func scraped(_ metric: String, port: Int) async throws -> Double? {
        let body = try await HTTPFetch.get(port: port, path: "/metrics").body
        let line = body.split(separator: "\n").first { $0.hasPrefix(metric + "{") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
    }

    private func residentKiB(_ pid: pid_t) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
