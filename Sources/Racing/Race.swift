/// Runs `racers` side by side until one of them decides, and returns its decision.
///
/// A racer decides by returning a value; returning `nil` drops out of the race without deciding
/// (a helper that has nothing more to do). The first error any racer throws ends the race with
/// that error. Either way the other racers are cancelled and awaited before this returns, so
/// they must honour cancellation promptly. Returns `nil` when every racer dropped out.
///
///     let outcome = try await race(
///         { try await waitForSlot(); return .acquired },
///         { try await clock.sleep(until: deadline); return .timedOut },
///         { await extendStartTimeout(); return nil }
///     )
public func race<Decision: Sendable>(
    _ racers: (@Sendable () async throws -> Decision?)...
) async throws -> Decision? {
    try await withThrowingTaskGroup(of: Decision?.self) { group in
        for racer in racers {
            group.addTask { try await racer() }
        }
        defer { group.cancelAll() }
        while let next = try await group.next() {
            if let decision = next { return decision }
        }
        return nil
    }
}

/// How an operation raced against its time limit ended.
public enum TimeLimitOutcome<Value: Sendable>: Sendable {
    case finished(Value)
    case timedOut
}

/// Runs `operation`, cancelling it when `limit` passes first, as `clock` measures it.
///
/// - Throws: what `operation` throws, or `CancellationError` when the calling task is cancelled
///   before either finished.
public func withTimeLimit<Value: Sendable>(
    _ limit: Duration,
    clock: some Clock<Duration> = ContinuousClock(),
    _ operation: @escaping @Sendable () async throws -> Value
) async throws -> TimeLimitOutcome<Value> {
    let outcome = try await race(
        { .finished(try await operation()) },
        { () async throws -> TimeLimitOutcome<Value>? in
            try await clock.sleep(for: limit)
            return .timedOut
        }
    )
    // Both racers always decide, so the race has a decision.
    return outcome ?? .timedOut
}
