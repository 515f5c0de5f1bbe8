import Etcd
import Foundation
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A running `stand-in-service`: the watched service, whose HTTP status the test sets.
final class StandIn: @unchecked Sendable {
    let process: ChildProcess
    let port: Int
    let host: String
    let directory: String

    var statusFile: String { directory + "/status" }
    var requestLog: String { directory + "/requests" }
    /// An IPv6 host in brackets, as a URL writes it.
    var url: String { "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/" }

    /// `network`: runs inside `networkHost` of that test network instead of this process's namespace.
    init(host: String = "127.0.0.1", arguments: [String] = [], network: TestNetwork? = nil, networkHost: TestNetwork.Host? = nil) async throws {
        self.host = host
        directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "stand-in")
        let output = Pipe()
        let executable = try BuildProducts.executable(named: "stand-in-service")
        let fullArguments = ["--listen", "\(host):0", "--status-file", directory + "/status", "--request-log", directory + "/requests"] + arguments
        if let network, let networkHost {
            process = try network.start(in: networkHost, executable, fullArguments, standardOutput: output.fileHandleForWriting)
        } else {
            process = try Command.start(executable, fullArguments, standardOutput: output.fileHandleForWriting)
        }
        // Its first line is the readiness signal: "listening on PORT" (EOF if it died).
        let reader = output.fileHandleForReading
        let line = await onOwnThread { () -> Data in
            var line = Data()
            while !line.contains(UInt8(ascii: "\n")) {
                let chunk = reader.availableData
                if chunk.isEmpty { break }
                line.append(chunk)
            }
            return line
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("listening on "), let port = Int(text.dropFirst("listening on ".count).prefix { $0.isNumber }) else {
            process.terminate()
            throw CommandError(description: "stand-in-service did not start: \(text.debugDescription)")
        }
        self.port = port
    }

    /// `count` stand-ins on 127.0.0.1, started one after the other.
    static func several(_ count: Int) async throws -> [StandIn] {
        var started: [StandIn] = []
        for _ in 0..<count { started.append(try await StandIn()) }
        return started
    }

    func set(status: Int) throws {
        try "\(status)\n".write(toFile: statusFile, atomically: true, encoding: .utf8)
    }

    /// The statuses served so far, oldest first.
    var served: [Int] {
        ((try? String(contentsOfFile: requestLog, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int($0) }
    }

    deinit {
        process.terminate()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A `service-monitor` process started by a test, its standard error kept in a file.
final class MonitorProcess: @unchecked Sendable {
    let process: ChildProcess
    let logFile: String

    /// `network`: runs inside `host` of that test network instead of this process's namespace.
    init(_ arguments: [String], environment: [String: String?] = [:], network: TestNetwork? = nil, host: TestNetwork.Host? = nil) throws {
        logFile = try EtcdTestPaths.makeTemporaryDirectory(prefix: "monitor") + "/stderr"
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let executable = try BuildProducts.executable(named: "service-monitor")
        let environment = environment.merging(["JOURNAL_STREAM": nil, "NOTIFY_SOCKET": nil]) { mine, _ in mine }
        let standardError = FileHandle(forWritingAtPath: logFile)
        if let network, let host {
            process = try network.start(in: host, executable, arguments, environment: environment, standardError: standardError)
        } else {
            process = try Command.start(executable, arguments, environment: environment, standardError: standardError)
        }
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// SIGTERM and wait (bounded); returns the exit status.
    func terminate(timeout: Duration = .seconds(15)) async throws -> Int32 {
        process.terminate()
        return try await process.waitForExit(timeout: timeout, "service-monitor to exit after SIGTERM")
    }

    /// Waits (bounded) for the process to exit on its own; returns the exit status.
    func waitForExit(timeout: Duration = .seconds(20), _ what: String = "service-monitor to exit") async throws -> Int32 {
        do {
            return try await process.waitForExit(timeout: timeout, what)
        } catch {
            throw CommandError(description: "\(error); log: \(log)")
        }
    }

    var isRunning: Bool { process.isRunning }

    /// SIGHUP, as when its terminal goes away; the caller waits for the exit.
    func hangUp() {
        process.send(SIGHUP)
    }

    func kill9() async {
        await process.kill()
    }

    deinit {
        process.send(SIGKILL)
    }
}

/// The instance record as the contract (docs/store-layout.md) describes it, decoded independently of the
/// product's own types.
// @unchecked: the JSON object is immutable once decoded.
struct StoredRecord: @unchecked Sendable {
    let json: [String: Any]
    let modRevision: Int64
    let lease: Int64

    var state: String? { json["state"] as? String }
    var host: String? { json["host"] as? String }
    var serviceID: String? { json["service_id"] as? String }
    var detail: String? { json["detail"] as? String }
    var since: String? { json["since"] as? String }
    var info: [String: Any]? { json["info"] as? [String: Any] }

    init(_ kv: KeyValue) throws {
        guard let object = try JSONSerialization.jsonObject(with: Data(kv.value)) as? [String: Any] else {
            throw CommandError(description: "record is not a JSON object: \(kv.valueString)")
        }
        json = object
        modRevision = kv.modRevision
        lease = kv.lease
    }
}

extension EtcdClient {
    /// Waits — driven by an etcd watch, bounded by `timeout` — until the record at `key`
    /// satisfies `condition` (`nil` means the key is absent), and returns it.
    func waitForRecord(
        _ key: String,
        timeout: Duration = .seconds(20),
        _ what: String,
        _ condition: @escaping @Sendable (StoredRecord?) -> Bool
    ) async throws -> StoredRecord? {
        let current = try await range(.key(key))
        let record = try current.kvs.first.map(StoredRecord.init)
        if condition(record) { return record }
        return try await withThrowingTaskGroup(of: StoredRecord?.self) { group in
            group.addTask {
                try await self.watch(.key(key), options: WatchOptions(startRevision: current.header.revision + 1)) { batches in
                    for try await batch in batches {
                        for event in batch.events {
                            let record = event.kind == .put ? try StoredRecord(event.kv) : nil
                            if condition(record) { return record }
                        }
                    }
                    throw CommandError(description: "watch on \(key) ended")
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw CommandError(description: "timed out after \(timeout) waiting for \(key) to be \(what)")
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    /// The store's current revision (a read that moves nothing).
    func currentRevision() async throws -> Int64 {
        try await range(.key("/")).header.revision
    }
}

/// A label nobody else uses, so parallel tests and journal queries never see each other.
func uniqueLabel(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}
