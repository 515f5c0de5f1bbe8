import Etcd
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `run` in its one-unit form (`Type=notify`, `NotifyAccess=main`, `KillMode=mixed`) under the
/// private systemd user manager, with the stand-in as the service: each instance of the template
/// is named after the free port its stand-in listens on.
@Suite("run under systemd", .serialized, .shares(.userManager), .timeLimit(.minutes(6)))
struct RunUnitTests {
    @Test func instancesStartOneAtATimeAreActiveWhenHealthyAndLeaveAsTheyShould() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let template = try RunTemplate(endpoints: cluster.clientURLs[0])
                defer { template.remove() }
                try await template.install()
                let ports = try EtcdFreePorts.take(3)
                let units = ports.map(template.unit)
                do {
                    try await scenario(template, units, client)
                } catch {
                    await template.stop(units)
                    throw error
                }
                await template.stop(units)
            }
        }
    }

    @Test func aWaitingUnitOutlivesItsStartTimeoutAndStartsOnceTheLeaseIsFree() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let template = try RunTemplate(endpoints: cluster.clientURLs[0], timeoutStartSec: "3s")
                defer { template.remove() }
                try await template.install()
                let unit = template.unit(try EtcdFreePorts.take(1)[0])
                let lease = StartupLeaseFixture(cluster, client, label: template.label)
                try await UserManager.removing(unit) {
                    _ = try await lease.acquireNow("holder")
                    let start = try await UserManager.systemctl(["start", "--no-block", unit])
                    try #require(start.status == 0, "\(start)")
                    _ = try await client.waitForRecord(lease.queueKey(template.serviceID(unit)), "queued") { $0 != nil }

                    // Twice its TimeoutStartSec later the unit is still starting: EXTEND_TIMEOUT_USEC works.
                    let waitingSince = ContinuousClock.now
                    while ContinuousClock.now - waitingSince < .seconds(6) {
                        let state = try await UserManager.properties(of: unit, ["ActiveState"])["ActiveState"]
                        try #require(state == "activating", "unit left activating while waiting: \(state ?? "?")")
                        try await Task.sleep(for: .milliseconds(500))
                    }
                    #expect(!FileManager.default.fileExists(atPath: template.state + "/handed-" + template.port(unit)), "started before its turn")

                    #expect(try await lease.release("holder").status == 0)
                    // Started, healthy after 2 s, then active: the 3 s start timeout no longer counts the wait.
                    let properties = try await template.waitFor(unit, toBe: "active", timeout: .seconds(30))
                    #expect(properties["Result"] == "success")
                    #expect(try template.handed(unit) == "|")
                }
            }
        }
    }

    private func scenario(_ template: RunTemplate, _ units: [String], _ client: EtcdClient) async throws {
        // All three at the same moment: one start job each, queued in one call.
        let start = try await UserManager.systemctl(["start", "--no-block"] + units)
        try #require(start.status == 0, "\(start)")
        var properties: [String: [String: String]] = [:]
        for unit in units {
            properties[unit] = try await template.waitFor(unit, toBe: "active", timeout: .seconds(90))
        }

        // One at a time, in the order they became active: each handed exactly the ones before it,
        // in {hosts} and in SERVICE_MONITOR_HOSTS.
        let order = units.sorted { Self.monotonic(properties[$0], "ActiveEnterTimestampMonotonic") < Self.monotonic(properties[$1], "ActiveEnterTimestampMonotonic") }
        for (position, unit) in order.enumerated() {
            let before = order.prefix(position).map(template.serviceID).joined(separator: ",")
            #expect(try template.handed(unit) == "\(before)|\(before)", "\(unit), started as number \(position + 1)")
            // Active only once healthy: the stand-in answers 503 for its first 2 s.
            let started = Self.monotonic(properties[unit], "ExecMainStartTimestampMonotonic")
            let active = Self.monotonic(properties[unit], "ActiveEnterTimestampMonotonic")
            #expect(active - started >= 2_000_000, "\(unit) active \(active - started) µs after it started")
        }
        // The last one up released the lease: no holder, nobody queued.
        try await eventually("the startup lease to be free") {
            let holders = try await client.range(.prefix(template.prefix + "/\(template.label)/startup/holders/"))
            let queue = try await client.range(.prefix(template.prefix + "/\(template.label)/startup/queue/"))
            return holders.kvs.isEmpty && queue.kvs.isEmpty
        }

        // systemctl stop: the record is gone before the service gets SIGTERM.
        let stopped = order[0]
        let stop = try await UserManager.systemctl(["stop", stopped])
        #expect(stop.status == 0, "\(stop)")
        let seen = try template.seenAtSIGTERM(stopped)
        #expect(seen == order.dropFirst().map(template.serviceID).joined(separator: ","), "up when \(stopped) got SIGTERM: \(seen)")
        #expect(try await UserManager.properties(of: stopped, ["Result"])["Result"] == "success")

        // The service exiting 3: the unit fails with status 3 and the record is gone.
        let failing = order[1]
        kill(try template.standInPID(failing), SIGKILL)
        let failed = try await template.waitFor(failing, toBe: "failed", timeout: .seconds(30))
        #expect(failed["ExecMainStatus"] == "3", "\(failed)")
        #expect(try await client.range(.key(template.instanceKey(failing))).kvs.isEmpty)

        // kill -9 of service-monitor: the service ends with it, the record within --ttl (3 s).
        let killed = order[2]
        let mainPID = try #require(try await UserManager.properties(of: killed, ["MainPID"])["MainPID"].flatMap { pid_t($0) })
        let service = try template.servicePID(killed)
        kill(mainPID, SIGKILL)
        let killedAt = ContinuousClock.now
        try await eventually("the service of \(killed) (pid \(service)) to end", timeout: .seconds(10)) { !RunTests.isAlive(service) }
        _ = try await client.waitForRecord(template.instanceKey(killed), timeout: .seconds(15), "gone") { $0 == nil }
        #expect(ContinuousClock.now - killedAt < .seconds(8))
    }

    static func monotonic(_ properties: [String: String]?, _ name: String) -> Int64 {
        properties?[name].flatMap { Int64($0) } ?? 0
    }
}

/// The test's one-unit template and the script it runs: records what it was handed, runs the
/// stand-in, on SIGTERM records who is up and exits 0, and exits 3 when the stand-in dies.
struct RunTemplate {
    let endpoints: String
    let label = uniqueLabel("run-unit")
    let prefix = "/service-monitor"
    let state: String
    let unitDirectory: String
    var name: String { "sm-\(label)@.service" }

    let timeoutStartSec: String

    init(endpoints: String, timeoutStartSec: String = "120s") throws {
        self.endpoints = endpoints
        self.timeoutStartSec = timeoutStartSec
        state = try EtcdTestPaths.makeTemporaryDirectory(prefix: "run-unit")
        unitDirectory = try UserManager.environment()["XDG_RUNTIME_DIR"]!! + "/systemd/user"
    }

    func unit(_ port: Int) -> String { "sm-\(label)@\(port).service" }
    func port(_ unit: String) -> String { String(unit.dropFirst("sm-\(label)@".count).dropLast(".service".count)) }
    func serviceID(_ unit: String) -> String { "\(label)-\(port(unit))" }
    func instanceKey(_ unit: String) -> String { "\(prefix)/\(label)/instances/\(serviceID(unit))" }

    func install() async throws {
        let serviceMonitor = try BuildProducts.executable(named: "service-monitor")
        let script = """
        #!/bin/sh
        port=$1
        printf '%s|%s\\n' "$2" "$SERVICE_MONITOR_HOSTS" > \(state)/handed-$port
        echo $$ > \(state)/service-$port
        trap '\(serviceMonitor) hosts --endpoints \(endpoints) --label \(label) --template "{service_id}" > \(state)/at-term-$port; kill $standin; exit 0' TERM
        \(try BuildProducts.executable(named: "stand-in-service")) --listen 127.0.0.1:$port --unhealthy-for 2s &
        standin=$!
        echo $standin > \(state)/stand-in-$port
        wait $standin
        exit 3

        """
        try script.write(toFile: state + "/service.sh", atomically: true, encoding: .utf8)
        chmod(state + "/service.sh", 0o755)
        let unit = """
        [Service]
        Type=notify
        NotifyAccess=main
        KillMode=mixed
        TimeoutStartSec=\(timeoutStartSec)
        TimeoutStopSec=30s
        ExecStart=\(serviceMonitor) run --endpoints=\(endpoints) --label=\(label) --service-id=\(label)-%i --host-ip=127.0.0.1 \\
            --monitor-url=http://127.0.0.1:%i/ --interval=1s --timeout=800ms --ttl=3s --template={service_id} --stop-timeout=10s \\
            -- \(state)/service.sh %i {hosts}

        """
        try FileManager.default.createDirectory(atPath: unitDirectory, withIntermediateDirectories: true)
        // No daemon-reload: the manager loads a unit it has never seen from disk when it is first
        // named, and a reload would reset the start timeout other tests' waiters have extended.
        try unit.write(toFile: unitDirectory + "/" + name, atomically: true, encoding: .utf8)
    }

    func handed(_ unit: String) throws -> String { try read("handed", unit) }
    func seenAtSIGTERM(_ unit: String) throws -> String { try read("at-term", unit) }
    func standInPID(_ unit: String) throws -> pid_t { try pid_t(read("stand-in", unit)).unwrapped("stand-in pid of \(unit)") }
    func servicePID(_ unit: String) throws -> pid_t { try pid_t(read("service", unit)).unwrapped("service pid of \(unit)") }

    private func read(_ what: String, _ unit: String) throws -> String {
        let text = try String(contentsOfFile: "\(state)/\(what)-\(port(unit))", encoding: .utf8)
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    func waitFor(_ unit: String, toBe state: String, timeout: Duration) async throws -> [String: String] {
        var properties: [String: String] = [:]
        let names = ["ActiveState", "Result", "ExecMainStatus", "ActiveEnterTimestampMonotonic", "ExecMainStartTimestampMonotonic"]
        try await eventually("\(unit) to be \(state) (\(properties))", timeout: timeout) {
            properties = try await UserManager.properties(of: unit, names)
            return properties["ActiveState"] == state
        }
        return properties
    }

    func stop(_ units: [String]) async {
        for unit in units { await UserManager.remove(unit: unit) }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: unitDirectory + "/" + name)
        try? FileManager.default.removeItem(atPath: state)
    }
}

extension Optional {
    func unwrapped(_ what: String) throws -> Wrapped {
        guard let self else { throw CommandError(description: "no \(what)") }
        return self
    }
}
