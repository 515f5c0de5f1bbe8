import Etcd
import Foundation
import Synchronization
import Testing
import TestSupport

/// Nothing a caller passes as label, service id or service-info writes outside
/// `<prefix>/<label>/` (docs/store-layout.md): every write path runs with the most hostile valid names
/// while a watch on the whole keyspace records each key written.
@Suite("Prefix confinement", .timeLimit(.minutes(3)))
struct PrefixConfinementTests {
    /// Valid, but as awkward as the rules allow: dots only, a leading dash, mixed case, 128 long.
    static let dotsLabel = "..."
    static let longLabel = "Mixed.Case-" + String((0..<117).map { Array("aB9._-")[$0 % 6] })
    static let dashID = "-x", dotsID = "...", mixedID = "a.b-c_D"
    static let longID = "I" + String((0..<127).map { Array("zY0-_.")[$0 % 6] })

    /// Keys that look like paths, unicode, a NUL, an empty key, nested values with `/` and `..`,
    /// and strings holding what outside a string would be a trailing comma.
    static let hostileInfo = #"""
    {"../../x": "../../etc/passwd", "/": {"nested": {"deeper": ["/", "..", null]}}, "ünï/cödé": "ø/../", "key with spaces": true, "": "empty key", "\u0000": "nul", "commas": ",}", "quoted": "\",]"}
    """#

    @Test func hostileValidNamesAndServiceInfoWriteOnlyTheDocumentedKeys() async throws {
        #expect(Self.longLabel.count == 128 && Self.longID.count == 128)
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let written = WrittenKeys()
                let start = try await client.currentRevision()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        // The empty prefix is the whole keyspace.
                        try await client.watch(.prefix(""), options: WatchOptions(startRevision: start + 1)) { batches in
                            for try await batch in batches { written.record(batch.events) }
                        }
                    }
                    defer { group.cancelAll() }
                    try await Self.runEveryWritePath(cluster, client)
                    let end = try await client.currentRevision()
                    try await eventually("the keyspace watch to reach revision \(end)") { written.lastRevision >= end }
                }

                // Where the keys may be, exactly: the documented sub-layouts of each (prefix,
                // lowercased label) used, for the ids used with it.
                let used: [(prefix: String, label: String, ids: [String])] = [
                    ("/service-monitor", Self.dotsLabel, [Self.dashID, Self.dotsID, Self.mixedID, Self.longID]),
                    ("/hostile/root", Self.longLabel.lowercased(), [Self.dotsID, Self.dashID]),
                    ("relative/root", Self.dotsLabel, [Self.mixedID]),
                ]
                var allowed = Set<String>()
                for (prefix, label, ids) in used {
                    allowed.insert("\(prefix)/\(label)/startup/admissions")
                    for id in ids {
                        allowed.formUnion(["instances/", "startup/holders/", "startup/queue/"].map { "\(prefix)/\(label)/\($0)\(id)" })
                    }
                }
                let keys = written.keys
                #expect(keys.subtracting(allowed).isEmpty, "written outside the layout: \(keys.subtracting(allowed).sorted())")
                // And the paths did run: the test cannot pass by writing nothing.
                let dots = "/service-monitor/\(Self.dotsLabel)/", long = "/hostile/root/\(Self.longLabel.lowercased())/"
                let mustHave: Set<String> = [
                    dots + "instances/" + Self.dashID, dots + "instances/" + Self.mixedID,
                    dots + "startup/holders/" + Self.dotsID, dots + "startup/holders/" + Self.mixedID,
                    dots + "startup/queue/" + Self.longID, dots + "startup/holders/" + Self.longID, dots + "startup/admissions",
                    long + "instances/" + Self.dotsID, long + "startup/holders/" + Self.dashID,
                    "relative/root/\(Self.dotsLabel)/startup/holders/\(Self.mixedID)",
                ]
                #expect(mustHave.subtracting(keys).isEmpty, "never written: \(mustHave.subtracting(keys).sorted())")
            }
        }
    }

    /// watch (up, down, up, deregister, releasing its startup slot), acquire-lease with two slots
    /// and a queued waiter, release-lease — under the default prefix, one given with a trailing
    /// slash, and one without a leading slash.
    private static func runEveryWritePath(_ cluster: EtcdCluster, _ client: EtcdClient) async throws {
        let endpoint = cluster.clientURLs[0]
        let service = try await StandIn()
        func watch(_ label: String, _ id: String, _ extra: [String] = []) throws -> MonitorProcess {
            try MonitorProcess([
                "watch", "--endpoints", endpoint, "--label", label, "--service-id=\(id)", "--monitor-url", service.url,
                "--interval", "300ms", "--timeout", "200ms", "--ttl", "3s", "--host-ip", "127.0.0.61", "--log-target", "console",
                "--service-info", hostileInfo,
            ] + extra)
        }
        func acquire(_ label: String, _ id: String, _ extra: [String] = []) throws -> MonitorProcess {
            try MonitorProcess([
                "acquire-lease", "--endpoints", endpoint, "--label", label, "--service-id=\(id)", "--slots", "2",
                "--host-ip", "127.0.0.61", "--log-target", "console",
            ] + extra)
        }
        func acquireNow(_ label: String, _ id: String, _ extra: [String] = []) async throws {
            let process = try acquire(label, id, extra)
            let status = try await process.waitForExit(timeout: .seconds(15), "\(id) to acquire at once")
            #expect(status == 0, "acquire-lease \(id): \(process.log)")
        }
        func serviceMonitor(_ arguments: [String]) async throws -> CommandResult {
            try await Command.run(
                try BuildProducts.executable(named: "service-monitor"), [arguments[0], "--endpoints", endpoint] + arguments.dropFirst(),
                environment: ["JOURNAL_STREAM": nil], timeout: .seconds(20)
            )
        }
        /// release-lease exits 0 either way: the line says whether it found the slot.
        func release(_ label: String, _ id: String, _ extra: [String] = []) async throws {
            let result = try await serviceMonitor(["release-lease", "--label", label, "--service-id=\(id)"] + extra)
            #expect(result.status == 0 && result.standardOutput == "released startup lease of \(id) for \(label.lowercased())\n", "\(result)")
        }
        let dots = "/service-monitor/\(dotsLabel)/"

        // watch: up, down, up again, then deregistered; the service-info comes back as given.
        let watcher = try watch(dotsLabel, dashID)
        let record = try #require(try await client.waitForRecord(dots + "instances/" + dashID, "up") { $0?.state == "up" })
        let expectedInfo = try JSONSerialization.jsonObject(with: Data(hostileInfo.utf8)) as? NSDictionary
        #expect(record.info.map { NSDictionary(dictionary: $0) } == expectedInfo, "info: \(String(describing: record.info))")
        try service.set(status: 503)
        _ = try await client.waitForRecord(dots + "instances/" + dashID, "down") { $0?.state == "down" }
        try service.set(status: 200)
        _ = try await client.waitForRecord(dots + "instances/" + dashID, "up again") { $0?.state == "up" }
        #expect(try await watcher.terminate() == 0)
        _ = try await client.waitForRecord(dots + "instances/" + dashID, "deregistered") { $0 == nil }

        // Two slots: two hold at once, the third queues until a release.
        try await acquireNow(dotsLabel, dotsID)
        try await acquireNow(dotsLabel, mixedID)
        let waiter = try acquire(dotsLabel, longID)
        _ = try await client.waitForRecord(dots + "startup/queue/" + longID, "queued") { $0 != nil }
        try await release(dotsLabel, dotsID)
        #expect(try await waiter.waitForExit(timeout: .seconds(15), "the waiter to be promoted") == 0, "\(waiter.log)")
        // A watch's first up releases its id's slot.
        let releasing = try watch(dotsLabel, mixedID)
        _ = try await client.waitForRecord(dots + "startup/holders/" + mixedID, "released by the watch") { $0 == nil }
        #expect(try await releasing.terminate() == 0)
        try await release(dotsLabel, longID)

        // A trailing slash is dropped: /hostile/root/ and /hostile/root are one prefix.
        let long = "/hostile/root/\(longLabel.lowercased())/"
        let prefixed = try watch(longLabel, dotsID, ["--prefix", "/hostile/root/"])
        _ = try await client.waitForRecord(long + "instances/" + dotsID, "up") { $0?.state == "up" }
        let hosts = try await serviceMonitor(["hosts", "--prefix", "/hostile/root", "--label", longLabel.uppercased()])
        #expect(hosts.standardOutput == "127.0.0.61\n", "\(hosts)")
        #expect(try await prefixed.terminate() == 0)
        try await acquireNow(longLabel, dashID, ["--prefix", "/hostile/root/"])
        try await release(longLabel, dashID, ["--prefix", "/hostile/root//"])

        // A prefix without a leading slash is used as written, not made absolute.
        try await acquireNow(dotsLabel, mixedID, ["--prefix", "relative/root"])
        try await release(dotsLabel, mixedID, ["--prefix", "relative/root"])
    }
}

/// Every key a watch delivered (puts and deletes), and the last revision seen.
final class WrittenKeys: Sendable {
    private let state = Mutex<(keys: Set<String>, revision: Int64)>(([], 0))

    func record(_ events: [WatchEvent]) {
        state.withLock { state in
            for event in events {
                state.keys.insert(event.kv.keyString)
                state.revision = max(state.revision, event.revision)
            }
        }
    }

    var keys: Set<String> { state.withLock { $0.keys } }
    var lastRevision: Int64 { state.withLock { $0.revision } }
}
