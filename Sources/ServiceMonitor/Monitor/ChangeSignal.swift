import Synchronization

/// "The state changed": raised by the check loop, awaited by the registrar, repeated raises
/// coalesced into one.
///
/// Not an `AsyncStream`: cancelling a task that iterates an `AsyncStream` terminates the stream
/// for good, and the registrar's waiting task is cancelled every time a registration is lost —
/// after which it could never hear of a change again (it re-registered in a loop instead).
/// Cancelling a ``wait()`` here ends only that wait.
final class ChangeSignal: Sendable {
    private struct State {
        var pending = false
        var finished = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Bool, Never>)?
        var lastID: UInt64 = 0
    }

    private let state = Mutex(State())

    func raise() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            guard !state.finished else { return nil }
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume(returning: true)
    }

    /// Ends every present and future wait with `false`.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.waiter?.continuation
        }
        waiter?.resume(returning: false)
    }

    /// Returns `true` at the next raise (at once if one is pending), `false` once finished or
    /// when the calling task is cancelled. One waiter at a time.
    func wait() async -> Bool {
        let id = state.withLock { state in
            state.lastID += 1
            return state.lastID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let now = state.withLock { state -> Bool? in
                    if state.pending {
                        state.pending = false
                        return true
                    }
                    // Checked under the lock, so a cancellation that lands after this finds the waiter.
                    if state.finished || Task.isCancelled { return false }
                    precondition(state.waiter == nil, "ChangeSignal has one waiter at a time")
                    state.waiter = (id, continuation)
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let waiter = state.waiter, waiter.id == id else { return nil }
                state.waiter = nil
                return waiter.continuation
            }
            waiter?.resume(returning: false)
        }
    }
}
