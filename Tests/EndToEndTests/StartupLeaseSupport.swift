import Etcd
import Foundation
import Synchronization
import TestSupport

/// One label's startup lease as the tests drive it: real `acquire-lease` / `release-lease`
/// processes against a real etcd, and the keys of docs/store-layout.md read back with the etcd client.
struct StartupLeaseFixture: Sendable {
    let cluster: EtcdCluster
    let client: EtcdClient
    let label: String
    /// What the processes get as `--endpoints` (default: the first member only).
    let endpoints: String

    init(_ cluster: EtcdCluster, _ client: EtcdClient, label: String = uniqueLabel("startup"), endpoints: String? = nil) {
        self.cluster = cluster
        self.client = client
        self.label = label
        self.endpoints = endpoints ?? cluster.clientURLs[0]
    }

    func holderKey(_ id: String) -> String { "/service-monitor/\(label)/startup/holders/\(id)" }
    func queueKey(_ id: String) -> String { "/service-monitor/\(label)/startup/queue/\(id)" }
    var holdersPrefix: String { "/service-monitor/\(label)/startup/holders/" }
    var queuePrefix: String { "/service-monitor/\(label)/startup/queue/" }

    /// Starts `acquire-lease` in the background (console log in its log file).
    func startAcquire(_ id: String, _ options: [String] = []) throws -> MonitorProcess {
        try MonitorProcess([
            "acquire-lease", "--endpoints", endpoints, "--label", label, "--service-id", id,
            "--host-ip", "127.0.0.1", "--log-target", "console",
        ] + options)
    }

    /// Starts `acquire-lease` and waits until it is queued (its queue entry exists in etcd).
    func startQueued(_ id: String, _ options: [String] = []) async throws -> MonitorProcess {
        let process = try startAcquire(id, options)
        _ = try await client.waitForRecord(queueKey(id), "queued") { $0 != nil }
        return process
    }

    /// Runs `acquire-lease` to completion: it must get the lease at once.
    @discardableResult
    func acquireNow(_ id: String, _ options: [String] = []) async throws -> MonitorProcess {
        let process = try startAcquire(id, options)
        let status = try await process.waitForExit(timeout: .seconds(15), "\(id) to acquire at once")
        guard status == 0 else { throw CommandError(description: "acquire-lease \(id) exited \(status): \(process.log)") }
        return process
    }

    /// Runs `release-lease` to completion.
    func release(_ id: String) async throws -> CommandResult {
        try await serviceMonitor(["release-lease", "--label", label, "--service-id", id])
    }

    func serviceMonitor(_ arguments: [String]) async throws -> CommandResult {
        try await Command.run(
            try BuildProducts.executable(named: "service-monitor"),
            [arguments[0], "--endpoints", endpoints] + arguments.dropFirst(),
            environment: ["JOURNAL_STREAM": nil, "NOTIFY_SOCKET": nil],
            timeout: .seconds(20)
        )
    }

    /// Service ids holding now, oldest first.
    func holders() async throws -> [String] {
        try await ids(under: holdersPrefix)
    }

    /// Service ids queued now, first in line first.
    func queue() async throws -> [String] {
        try await ids(under: queuePrefix)
    }

    private func ids(under prefix: String) async throws -> [String] {
        try await client.range(.prefix(prefix)).kvs
            .sorted { $0.createRevision < $1.createRevision }
            .map { String($0.keyString.dropFirst(prefix.count)) }
    }

    /// Runs `body` while recording every change under the holders prefix, from a watch.
    func withHolderHistory<T: Sendable>(_ body: (HolderHistory) async throws -> T) async throws -> T {
        let history = HolderHistory()
        let start = try await client.currentRevision()
        let client = self.client, prefix = holdersPrefix
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            group.addTask {
                try await client.watch(.prefix(prefix), options: WatchOptions(startRevision: start + 1)) { batches in
                    for try await batch in batches {
                        history.record(batch.events.map { ($0.kind == .put, String($0.kv.keyString.dropFirst(prefix.count))) })
                    }
                }
            }
            defer { group.cancelAll() }
            return try await body(history)
        }
    }
}

/// The holder puts and deletes a watch delivered, in order.
final class HolderHistory: Sendable {
    struct Change: Sendable, Hashable, CustomStringConvertible {
        var isPut: Bool
        var id: String
        var description: String { (isPut ? "+" : "-") + id }
    }

    private let changes = Mutex<[Change]>([])

    func record(_ events: [(Bool, String)]) {
        changes.withLock { $0 += events.map { Change(isPut: $0.0, id: $0.1) } }
    }

    var all: [Change] { changes.withLock { $0 } }

    /// The most ids that held at once.
    var mostAtOnce: Int {
        var holding = Set<String>(), most = 0
        for change in all {
            if change.isPut { holding.insert(change.id) } else { holding.remove(change.id) }
            most = max(most, holding.count)
        }
        return most
    }

    /// Waits until at least `count` changes were delivered.
    func waitFor(count: Int) async throws {
        try await eventually("\(count) holder changes (have \(all))") { all.count >= count }
    }
}

extension MonitorProcess {
    /// Console lines of this process carrying `field` (e.g. `SERVICE_MONITOR_WAKE=`).
    func lines(containing field: String) -> [Substring] {
        log.split(separator: "\n").filter { $0.contains(field) }
    }
}
