import Posix
import Synchronization

/// What the check loop and the registrar share: the current health, the last result, and how
/// the registration stands. Also renders the one-line `STATUS=`.
final class MonitorStatus: Sendable {
    enum Registration: Sendable, Equatable {
        case pending
        case registered
        /// etcd could not be reached (or the lease was lost) since `since`.
        case degraded(since: TimeOfDay, reason: String)
        /// etcd answers but refuses writes (its NOSPACE alarm) since `since`: the record may be
        /// stale or missing.
        case outOfSpace(since: TimeOfDay)
    }

    struct Snapshot: Sendable {
        var health: Health = .unknown
        var healthSince = TimeOfDay.now
        var lastResult: CheckResult?
        /// The result of the check that last flipped the state; what the record's detail says.
        var transitionResult: CheckResult?
        var registration: Registration = .pending
        /// The registration under way: a record may already be published on it before
        /// `registration` says so, and shutdown must end it then too.
        var openRegistration: (any InstanceRegistration)?
        /// Bumped on every transition, so the registrar can tell a record it wrote is stale.
        var generation = 0
        /// `READY=1` went out (`--ready-when healthy`: with the first stored up record).
        var readySent = false
    }

    private let state = Mutex(Snapshot())
    /// Where transitions are signalled: the stream of the registration under way. Each
    /// registration takes a new one, because an `AsyncStream` whose consumer is cancelled (as a
    /// lost lease cancels the registration's tasks) is finished for good.
    private let changeSubscriber = Mutex<AsyncStream<Void>.Continuation?>(nil)
    let host: String
    /// The store's name, as the backend gives it (`etcd unreachable since …`).
    let storeName: String

    init(host: String, storeName: String) {
        self.host = host
        self.storeName = storeName
    }

    var snapshot: Snapshot { state.withLock { $0 } }

    func update<T>(_ body: (inout Snapshot) -> T) -> T {
        state.withLock { body(&$0) }
    }

    /// A stream that yields after each ``signalChange()`` from now on (the latest one buffered);
    /// the previous stream ends.
    func changes() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        changeSubscriber.withLock { current in
            current?.finish()
            current = continuation
        }
        return stream
    }

    func signalChange() {
        _ = changeSubscriber.withLock { $0?.yield() }
    }

    /// `up · HTTP 200 in 3 ms · registered 10.0.0.5 · since 12:00:01`
    func statusLine() -> String {
        let snapshot = self.snapshot
        var parts = [snapshot.health == .unknown ? "starting" : snapshot.health.rawValue]
        if let result = snapshot.lastResult { parts.append(result.detail) }
        switch snapshot.registration {
        case .pending: parts.append("registering \(host)")
        case .registered: parts.append("registered \(host)")
        case .degraded(let since, let reason): parts.append("\(storeName) unreachable since \(since), retrying (\(reason))")
        case .outOfSpace(let since): parts.append("degraded: etcd out of space (NOSPACE alarm) since \(since), record not updated, retrying")
        }
        if snapshot.health != .unknown { parts.append("since \(snapshot.healthSince)") }
        return parts.joined(separator: " · ")
    }
}

/// A wall-clock time of day for status lines (`12:00:01`, local time), plus the full timestamp
/// stored in records.
struct TimeOfDay: Sendable, Equatable, CustomStringConvertible {
    let description: String
    let timestamp: String

    static var now: TimeOfDay {
        // One clock reading for both, so the status line and the record agree.
        let now = WallClockTime.now
        return TimeOfDay(description: now.localTimeOfDay, timestamp: now.rfc3339)
    }
}
