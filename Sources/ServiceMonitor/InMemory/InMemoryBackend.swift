public import Logging

/// A backend that keeps everything in this process, with the semantics of a real one:
/// registrations and queue entries expire `ttl` after their last renewal and slots
/// `leaseTimeout` after they were taken, all on an injectable clock; registration order and the
/// FIFO queue are kept; `follow` and waiters are woken by changes and by expiries.
///
/// For fast tests of the monitor, discovery and the startup lease, and as the reference every
/// backend's conformance suite is held to; not selectable on the command line.
public struct InMemoryBackend<C: Clock>: StoreBackend where C.Duration == Duration {
    public let registry: InMemoryInstanceRegistry<C>
    public let semaphore: InMemoryStartupSemaphore<C>
    let tables: InMemoryTables<C>

    /// A killed waiter stops blocking the queue this long after its last renewal.
    public static var queueEntryTTL: Duration { .seconds(10) }

    public var name: String { "the in-memory store" }

    public init(clock: C) {
        tables = InMemoryTables(clock: clock)
        registry = InMemoryInstanceRegistry(tables: tables)
        semaphore = InMemoryStartupSemaphore(tables: tables)
    }

    public func status(of label: Label?) async throws -> StatusReport {
        tables.read { tables, now in
            let names = Set(tables.instances.keys).union(tables.holders.keys).union(tables.queue.keys)
                .filter { label == nil || $0 == label?.rawValue }
            return StatusReport(labels: names.sorted().compactMap { name in
                let instances = tables.records(of: name)
                let holders = tables.holders[name, default: [:]].sorted { $0.value.order < $1.value.order }.map { id, slot in
                    StatusReport.Holder(serviceID: id, secondsLeft: now.duration(to: slot.expiry).components.seconds)
                }
                let queue = tables.queueOrder(of: name)
                guard !instances.isEmpty || !holders.isEmpty || !queue.isEmpty else { return nil }
                return StatusReport.LabelStatus(label: name, instances: instances, startup: .init(holders: holders, queue: queue))
            })
        }
    }
}

extension InMemoryBackend where C == ContinuousClock {
    /// On the real clock.
    public init() {
        self.init(clock: ContinuousClock())
    }
}

/// Why an in-memory registration or queue entry can no longer be used.
public struct InMemoryBackendError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The registration expired or was ended.
        case registrationLost
        /// The queue entry expired or was removed.
        case queueEntryLost
    }

    public var code: Code
    public var description: String {
        switch code {
        case .registrationLost: "the registration expired or was ended"
        case .queueEntryLost: "the queue entry expired or was removed"
        }
    }
}

// MARK: Registry

public struct InMemoryInstanceRegistry<C: Clock>: InstanceRegistry where C.Duration == Duration {
    let tables: InMemoryTables<C>

    public func register(_ serviceID: ServiceID, of label: Label, ttl: Duration) async throws -> InMemoryRegistration<C> {
        let token = tables.write { tables, now in
            let token = tables.nextNumber()
            tables.registrations[token] = .init(label: label.rawValue, serviceID: serviceID.rawValue, expiry: now.advanced(by: ttl))
            return token
        }
        return InMemoryRegistration(tables: tables, token: token, label: label.rawValue, serviceID: serviceID.rawValue, ttl: ttl)
    }

    /// Whole records whatever `fields` is: they are kept decoded.
    public func instances(of label: Label, keeping fields: InstanceRecord.Fields) async throws -> [InstanceRecord] {
        tables.read { tables, _ in tables.records(of: label.rawValue) }
    }

    public func follow(_ label: Label, _ body: @escaping @Sendable ([InstanceRecord]) async throws -> Bool) async throws {
        while true {
            let (records, version) = tables.read { tables, _ in (tables.records(of: label.rawValue), tables.version) }
            guard try await body(records) else { return }
            try await tables.change(after: version)
        }
    }
}

public struct InMemoryRegistration<C: Clock>: InstanceRegistration where C.Duration == Duration {
    let tables: InMemoryTables<C>
    let token: UInt64
    let label: String
    let serviceID: String
    let ttl: Duration

    public var location: String { "memory:\(label)/instances/\(serviceID)" }
    public var handle: String { "\(token)" }

    public func publish(_ record: InstanceRecord) async throws {
        try tables.write { tables, _ in
            guard tables.registrations[token] != nil else { throw InMemoryBackendError(code: .registrationLost) }
            // Like a key that exists: a record rewritten keeps its place in registration order.
            let order = tables.instances[label]?[serviceID]?.order ?? tables.nextNumber()
            tables.instances[label, default: [:]][serviceID] = .init(order: order, token: token, record: record)
            tables.touch()
        }
    }

    public func keepAlive() async throws -> Never {
        try await tables.renew(every: ttl) { tables, now in
            guard tables.registrations[token] != nil else { throw InMemoryBackendError(code: .registrationLost) }
            tables.registrations[token]?.expiry = now.advanced(by: ttl)
        }
    }

    public func end() async throws {
        tables.write { tables, _ in tables.endRegistration(token) }
    }
}

// MARK: Startup semaphore

public struct InMemoryStartupSemaphore<C: Clock>: StartupSemaphore where C.Duration == Duration {
    let tables: InMemoryTables<C>

    public func renew(_ serviceID: ServiceID, of label: Label, leaseTimeout: Duration) async throws -> Bool {
        tables.write { tables, now in
            guard tables.holders[label.rawValue]?[serviceID.rawValue] != nil else { return false }
            tables.holders[label.rawValue]?[serviceID.rawValue]?.expiry = now.advanced(by: leaseTimeout)
            return true
        }
    }

    public func enqueue(_ serviceID: ServiceID, of label: Label, entry: StartupEntryValue, logger: Logger) async throws -> InMemoryStartupTicket<C> {
        let token = tables.write { tables, now in
            let token = tables.nextNumber()
            // An entry left by an earlier, killed attempt keeps its place in line.
            let order = tables.queue[label.rawValue]?[serviceID.rawValue]?.order ?? tables.nextNumber()
            tables.queue[label.rawValue, default: [:]][serviceID.rawValue] = .init(
                order: order, token: token, expiry: now.advanced(by: InMemoryBackend<C>.queueEntryTTL), entry: entry
            )
            tables.touch()
            return token
        }
        return InMemoryStartupTicket(tables: tables, token: token, label: label.rawValue, serviceID: serviceID.rawValue, entry: entry)
    }

    public func holds(_ serviceID: ServiceID, of label: Label) async throws -> Bool {
        tables.read { tables, _ in tables.holders[label.rawValue]?[serviceID.rawValue] != nil }
    }

    public func release(_ serviceID: ServiceID, of label: Label) async throws -> Bool {
        tables.write { tables, _ in
            guard tables.holders[label.rawValue]?.removeValue(forKey: serviceID.rawValue) != nil else { return false }
            tables.touch()
            return true
        }
    }
}

public struct InMemoryStartupTicket<C: Clock>: StartupTicket where C.Duration == Duration {
    let tables: InMemoryTables<C>
    let token: UInt64
    let label: String
    let serviceID: String
    let entry: StartupEntryValue

    public func keepAlive() async throws -> Never {
        let ttl = InMemoryBackend<C>.queueEntryTTL
        try await tables.renew(every: ttl) { tables, now in
            guard tables.queue[label]?[serviceID]?.token == token else { throw InMemoryBackendError(code: .queueEntryLost) }
            tables.queue[label]?[serviceID]?.expiry = now.advanced(by: ttl)
        }
    }

    public func waitForSlot(slots: Int, leaseTimeout: Duration, report: @escaping @Sendable (StartupQueueReport) async -> Void) async throws {
        var lastReport: StartupQueueReport?
        while true {
            try Task.checkCancellation()
            let (next, version) = tables.write { tables, now -> (StartupQueueReport?, UInt64) in
                if tables.queue[label]?[serviceID]?.token != token {
                    // Expired while this process lived (a stalled keep-alive): queue again, last.
                    tables.queue[label, default: [:]][serviceID] = .init(
                        order: tables.nextNumber(), token: token, expiry: now.advanced(by: InMemoryBackend<C>.queueEntryTTL), entry: entry
                    )
                    tables.touch()
                }
                let queue = tables.queueOrder(of: label)
                let holders = tables.holders[label, default: [:]].sorted { $0.value.order < $1.value.order }
                let position = queue.firstIndex(of: serviceID) ?? 0
                if position < slots - holders.count {
                    tables.queue[label]?[serviceID] = nil
                    tables.holders[label, default: [:]][serviceID] = .init(
                        order: tables.nextNumber(), expiry: now.advanced(by: leaseTimeout), entry: entry
                    )
                    tables.touch()
                    return (nil, tables.version)
                }
                let described = holders.map { StartupQueueReport.Holder(serviceID: $0.key, timeLeft: now.duration(to: $0.value.expiry)) }
                return (StartupQueueReport(position: position, queueLength: queue.count, holders: described), tables.version)
            }
            guard let next else { return }
            // Time left changes on every read; only position and holders make a new report.
            let changed = lastReport.map {
                ($0.position, $0.queueLength, $0.holders.map(\.serviceID)) != (next.position, next.queueLength, next.holders.map(\.serviceID))
            } ?? true
            if changed {
                lastReport = next
                await report(next)
            }
            try await tables.change(after: version)
        }
    }

    public func leave() async throws {
        tables.write { tables, _ in
            guard tables.queue[label]?[serviceID]?.token == token else { return }
            tables.queue[label]?[serviceID] = nil
            tables.touch()
        }
    }
}
