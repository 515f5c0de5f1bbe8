/// How a race between an operation and its time limit ended.
enum RaceOutcome<Value: Sendable>: Sendable {
    case finished(Value)
    case timedOut
    /// The task running the race was cancelled from outside (shutdown).
    case cancelled
}

/// Runs `operation`, giving up after `limit`. The operation is cancelled when the limit passes
/// first, and must honour cancellation promptly for this to return on time.
///
/// Why not rely on the client's own deadline alone: AsyncHTTPClient's deadline stops at the
/// response head, and a check must also bound reading the body and any DNS stall, because a
/// hung check would freeze the watch loop (and with it the systemd watchdog).
func race<Value: Sendable>(
    _ operation: @escaping @Sendable () async -> Value,
    against limit: Duration
) async -> RaceOutcome<Value> {
    await withTaskGroup(of: RaceOutcome<Value>.self) { group in
        group.addTask { .finished(await operation()) }
        group.addTask {
            do {
                try await Task.sleep(for: limit)
                return .timedOut
            } catch {
                return .cancelled
            }
        }
        let first = await group.next() ?? .cancelled
        group.cancelAll()
        return first
    }
}
