/// Waits for `condition` by re-checking it every `every` until `timeout`, sleeping (not blocking)
/// in between; for state that has no push notification (a unit's state in the service manager,
/// an entry reaching the journal, a file another process appends to). Returns the first non-nil
/// value.
public func eventually<T>(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(20),
    every interval: Duration = .milliseconds(100),
    _ condition: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        if let value = try await condition() { return value }
        guard ContinuousClock.now < deadline else {
            throw CommandError(description: "timed out after \(timeout) waiting for \(what())")
        }
        try await Task.sleep(for: interval)
    }
}

/// ``eventually(_:timeout:every:_:)`` for a condition that is simply true or false.
public func eventually(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(20),
    every interval: Duration = .milliseconds(100),
    _ condition: () async throws -> Bool
) async throws {
    _ = try await eventually(what(), timeout: timeout, every: interval) { try await condition() ? true : nil }
}
