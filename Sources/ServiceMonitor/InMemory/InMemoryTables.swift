import Racing
import Synchronization

/// The state of an ``InMemoryBackend`` behind one lock, with expiry on its clock and a wake-up
/// for everyone waiting on a change.
final class InMemoryTables<C: Clock>: Sendable where C.Duration == Duration {
    struct Registration {
        var label: String
        var serviceID: String
        var expiry: C.Instant
    }

    struct Instance {
        /// Registration order: set when the record first appears, kept while it exists.
        var order: UInt64
        var token: UInt64
        var record: InstanceRecord
    }

    struct Slot {
        var order: UInt64
        var expiry: C.Instant
        var entry: StartupEntryValue
    }

    struct Waiter {
        var order: UInt64
        var token: UInt64
        var expiry: C.Instant
        var entry: StartupEntryValue
    }

    struct Tables {
        var registrations: [UInt64: Registration] = [:]
        /// label → service id → record.
        var instances: [String: [String: Instance]] = [:]
        var holders: [String: [String: Slot]] = [:]
        var queue: [String: [String: Waiter]] = [:]
        /// Bumped by every change someone may be waiting on.
        private(set) var version: UInt64 = 0
        private var counter: UInt64 = 0

        /// Tokens and orders come from one counter: unique and increasing.
        mutating func nextNumber() -> UInt64 {
            counter += 1
            return counter
        }

        mutating func touch() {
            version += 1
        }

        func records(of label: String) -> [InstanceRecord] {
            instances[label, default: [:]].values.sorted { $0.order < $1.order }.map(\.record)
        }

        func queueOrder(of label: String) -> [String] {
            queue[label, default: [:]].sorted { $0.value.order < $1.value.order }.map(\.key)
        }

        mutating func endRegistration(_ token: UInt64) {
            guard let registration = registrations.removeValue(forKey: token) else { return }
            if instances[registration.label]?[registration.serviceID]?.token == token {
                instances[registration.label]?[registration.serviceID] = nil
                if instances[registration.label]?.isEmpty == true { instances[registration.label] = nil }
            }
            touch()
        }

        /// Removes what expired by `now`.
        mutating func sweep(_ now: C.Instant) {
            for (token, registration) in registrations where registration.expiry <= now {
                endRegistration(token)
            }
            for (label, slots) in holders {
                for (id, slot) in slots where slot.expiry <= now {
                    holders[label]?[id] = nil
                    touch()
                }
            }
            for (label, waiters) in queue {
                for (id, waiter) in waiters where waiter.expiry <= now {
                    queue[label]?[id] = nil
                    touch()
                }
            }
        }

        /// When the next thing expires.
        var nextExpiry: C.Instant? {
            (registrations.values.map(\.expiry) + holders.values.flatMap { $0.values.map(\.expiry) }
                + queue.values.flatMap { $0.values.map(\.expiry) }).min()
        }
    }

    private struct Locked {
        var tables = Tables()
        /// Those waiting in ``change(after:)``, resumed by the next change.
        var sleepers: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextSleeper: UInt64 = 0
        /// Sleepers cancelled before they were stored.
        var cancelled: Set<UInt64> = []
    }

    let clock: C
    private let state = Mutex(Locked())

    init(clock: C) {
        self.clock = clock
    }

    /// Runs `body` on the tables after removing what expired; wakes the sleepers when anything
    /// changed.
    func write<T>(_ body: (inout Tables, C.Instant) throws -> T) rethrows -> T {
        let now = clock.now
        let (result, woken) = try state.withLock { locked -> (T, [CheckedContinuation<Void, Never>]) in
            let before = locked.tables.version
            locked.tables.sweep(now)
            let result = try body(&locked.tables, now)
            guard locked.tables.version != before else { return (result, []) }
            defer { locked.sleepers = [:] }
            return (result, Array(locked.sleepers.values))
        }
        for sleeper in woken { sleeper.resume() }
        return result
    }

    /// A read is a write that changes nothing but what expired.
    func read<T>(_ body: (Tables, C.Instant) throws -> T) rethrows -> T {
        try write { tables, now in try body(tables, now) }
    }

    /// Runs `renew` every third of `ttl`, as a keep-alive does, until cancelled or `renew` throws
    /// (what it renews is gone).
    func renew(every ttl: Duration, _ renew: (inout Tables, C.Instant) throws -> Void) async throws -> Never {
        while true {
            try await clock.sleep(for: ttl / 3)
            try write(renew)
        }
    }

    /// Returns after the tables move past `version`: a change, or the next expiry coming due.
    func change(after version: UInt64) async throws {
        let nextExpiry = read { tables, _ in tables.version == version ? tables.nextExpiry : nil }
        _ = try await race(
            { () async throws -> Void? in await self.woken(after: version) },
            {
                guard let nextExpiry else { return nil }
                try await self.clock.sleep(until: nextExpiry, tolerance: nil)
                return ()
            }
        )
        try Task.checkCancellation()
    }

    private func woken(after version: UInt64) async {
        let id = state.withLock { locked in
            locked.nextSleeper += 1
            return locked.nextSleeper
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLock { locked in
                    if locked.cancelled.remove(id) != nil || locked.tables.version != version { return true }
                    locked.sleepers[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { locked in
                if let sleeper = locked.sleepers.removeValue(forKey: id) { return Optional(sleeper) }
                locked.cancelled.insert(id)
                return nil
            }
            sleeper?.resume()
        }
        state.withLock { _ = $0.cancelled.remove(id) }
    }
}
