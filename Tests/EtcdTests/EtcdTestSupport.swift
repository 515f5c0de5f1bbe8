import Etcd
import Foundation
import Logging
import TestSupport
import Synchronization
import Testing

/// Runs `body` with a client for `cluster`'s members (all of them unless `members` is given).
@discardableResult
func withClient<Result: Sendable>(
    _ cluster: EtcdCluster,
    members: [Int]? = nil,
    configure: (inout EtcdClient.Configuration) -> Void = { _ in },
    _ body: (EtcdClient) async throws -> Result
) async throws -> Result {
    let urls = (members ?? Array(cluster.members.indices)).map { cluster.members[$0].clientURL }
    var configuration = EtcdClient.Configuration(endpoints: urls, dialTimeout: .seconds(2), requestTimeout: .seconds(5))
    configure(&configuration)
    return try await withEtcdClient(configuration, logger: testLogger, body)
}

/// Silent unless `ETCD_TEST_LOG=debug|info|notice` is set, then the client's fail-over
/// decisions go to stderr.
let testLogger: Logger = {
    guard let level = ProcessInfo.processInfo.environment["ETCD_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) else {
        return EtcdClient.silentLogger
    }
    var logger = Logger(label: "etcd-test", factory: { label in StreamLogHandler.standardError(label: label) })
    logger.logLevel = level
    return logger
}()

/// Runs `body` and returns the `EtcdError` it throws (failing the test if it throws nothing or
/// something else), with how long it took.
func expectEtcdError(
    _ body: () async throws -> Void,
    sourceLocation: SourceLocation = #_sourceLocation
) async -> (error: EtcdError?, elapsed: Duration) {
    let start = ContinuousClock.now
    do {
        try await body()
        Issue.record("expected an EtcdError, got success", sourceLocation: sourceLocation)
        return (nil, ContinuousClock.now - start)
    } catch let error as EtcdError {
        return (error, ContinuousClock.now - start)
    } catch {
        Issue.record("expected an EtcdError, got \(error)", sourceLocation: sourceLocation)
        return (nil, ContinuousClock.now - start)
    }
}

/// Collects watch events until `count` have arrived (bounded by the caller's timeout).
func collect(_ count: Int, from batches: WatchBatches) async throws -> [WatchEvent] {
    var events: [WatchEvent] = []
    for try await batch in batches {
        events += batch.events
        if events.count >= count { break }
    }
    return events
}

/// Values collected from `@Sendable` callbacks (keep-alive renewals and the like).
final class Recorder<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])

    func record(_ value: Value) {
        self.values.withLock { $0.append(value) }
    }

    var all: [Value] {
        self.values.withLock { $0 }
    }
}
