import DynamoDB
public import Logging
public import ServiceMonitor
import Synchronization

/// The startup semaphore in DynamoDB: a FIFO semaphore of slots that outlive the process that
/// took them, in the label's partition.
///
/// A waiter is `startup#queue#<id>` with a ticket from the label counter (`UpdateItem ADD`) and
/// an `expires` its process renews; holders are `startup#holder#<id>` with `leaseEnds` at
/// `--lease-timeout`; `startup#count` counts the holder items. A promotion is one
/// `TransactWriteItems`: the count goes up only while below `--slots`, the holder item is put
/// and the waiter's own queue item deleted. Releases and the removal of expired holders take
/// the count down in the same kind of transaction, so it always equals the holder items.
/// Waiters poll with consistent reads every `--poll-interval`.
public struct DynamoDBStartupSemaphore: StartupSemaphore {
    let store: DynamoDBStore

    /// A killed waiter stops blocking the queue this long after its last renewal (renewed every
    /// 3 s; expiries are whole seconds, so within 10 s).
    public static var queueEntryTTL: Duration { .seconds(9) }

    var layout: TableLayout { store.layout }

    public func renew(_ serviceID: ServiceID, of label: Label, leaseTimeout: Duration) async throws -> Bool {
        try await unlessConditionFails {
            try await store.client.updateItem(
                UpdateItem(
                    tableName: store.table, key: layout.holder(label, serviceID), updateExpression: "SET #ends = :ends",
                    conditionExpression: "#ends > :now",
                    expressionAttributeNames: ["#ends": TableLayout.Attribute.leaseEnds],
                    expressionAttributeValues: [":ends": .number(DynamoDBStore.millisecondsAfter(leaseTimeout)), ":now": .number(DynamoDBStore.nowMilliseconds)]
                ),
                deadline: store.deadline()
            )
        }
    }

    public func enqueue(_ serviceID: ServiceID, of label: Label, entry: StartupEntryValue, logger: Logger) async throws -> DynamoDBStartupTicket {
        try await store.noteLabel(label)
        let ticket = DynamoDBStartupTicket(
            store: store, label: label, serviceID: serviceID, entry: String(decoding: try entry.encoded(), as: UTF8.self),
            owner: DynamoDBStore.newToken(), logger: logger, state: TicketState()
        )
        try await ticket.join()
        return ticket
    }

    public func holds(_ serviceID: ServiceID, of label: Label) async throws -> Bool {
        guard let held = try await store.item(at: layout.holder(label, serviceID)) else { return false }
        return (held.int64(TableLayout.Attribute.leaseEnds) ?? 0) > DynamoDBStore.nowMilliseconds
    }

    /// Deletes the holder item with the count in one transaction, provided it is the item read.
    public func release(_ serviceID: ServiceID, of label: Label) async throws -> Bool {
        for _ in 0..<5 {
            guard let held = try await store.item(at: layout.holder(label, serviceID)),
                  let ends = held.int64(TableLayout.Attribute.leaseEnds) else { return false }
            if try await removeHolder(label, serviceID, ends: ends, onlyExpired: false) {
                // An expired slot was gone already, as far as anyone could tell.
                return ends > DynamoDBStore.nowMilliseconds
            }
        }
        return false
    }

    /// Deletes holder `serviceID` if its `leaseEnds` is still `ends` (and, with `onlyExpired`,
    /// has passed), taking the count down in the same transaction; `false` if it changed.
    func removeHolder(_ label: Label, _ serviceID: ServiceID, ends: Int64, onlyExpired: Bool) async throws -> Bool {
        var values: Item = [":ends": .number(ends)]
        if onlyExpired { values[":now"] = .number(DynamoDBStore.nowMilliseconds) }
        return try await unlessConditionFails {
            try await store.client.transactWriteItems(
                TransactWriteItems([
                    .delete(DeleteItem(
                        tableName: store.table, key: layout.holder(label, serviceID),
                        conditionExpression: onlyExpired ? "#ends = :ends AND #ends <= :now" : "#ends = :ends",
                        expressionAttributeNames: ["#ends": TableLayout.Attribute.leaseEnds], expressionAttributeValues: values
                    )),
                    .update(UpdateItem(
                        tableName: store.table, key: layout.holderCount(label), updateExpression: "ADD #count :minusOne",
                        expressionAttributeNames: ["#count": TableLayout.Attribute.count], expressionAttributeValues: [":minusOne": .number(-1)]
                    )),
                // A retry whose first try committed is applied once: it succeeds instead of
                // finding the holder gone.
                ], clientRequestToken: DynamoDBStore.newToken()),
                deadline: store.deadline()
            )
        }
    }
}

/// What a ticket's keep-alive and wait share.
final class TicketState: Sendable {
    /// Set before a promotion is sent: from then on a missing queue item is no loss.
    let promoting = Mutex(false)
}

/// The label's startup items, read at once (consistently, expired waiters dropped).
struct StartupSnapshot {
    struct Holder {
        var serviceID: String
        /// Epoch milliseconds.
        var ends: Int64
        var owner: String?
        var order: Int64
    }

    struct Waiter {
        var serviceID: String
        var owner: String?
        var ticket: Int64
    }

    /// Oldest first.
    var holders: [Holder] = []
    /// In ticket order.
    var queue: [Waiter] = []

    init(_ items: [Item]) {
        for item in items {
            guard let sortKey = item.sortKey else { continue }
            switch TableLayout.entry(sortKey: sortKey) {
            case .holder(let id):
                holders.append(Holder(
                    serviceID: id, ends: item.int64(TableLayout.Attribute.leaseEnds) ?? 0, owner: item.string(TableLayout.Attribute.owner),
                    order: item.int64(TableLayout.Attribute.order) ?? .max
                ))
            case .queueEntry(let id):
                queue.append(Waiter(serviceID: id, owner: item.string(TableLayout.Attribute.owner), ticket: item.int64(TableLayout.Attribute.order) ?? .max))
            case .instance, .holderCount, nil:
                continue
            }
        }
        holders.sort { ($0.order, $0.serviceID) < ($1.order, $1.serviceID) }
        queue.sort { ($0.ticket, $0.serviceID) < ($1.ticket, $1.serviceID) }
    }
}

/// A waiter's queue item and the owner token it renews it by.
public struct DynamoDBStartupTicket: StartupTicket {
    let store: DynamoDBStore
    let label: Label
    let serviceID: ServiceID
    /// The ``StartupEntryValue`` JSON.
    let entry: String
    let owner: String
    let logger: Logger
    let state: TicketState

    var layout: TableLayout { store.layout }
    var queueKey: Item { layout.queueEntry(label, serviceID) }

    /// Takes over a live queue item of this id (a killed earlier attempt: its ticket, its place
    /// in line), else writes a new one with the next ticket.
    func join() async throws {
        let names = [
            "#owner": TableLayout.Attribute.owner, "#expires": TableLayout.expiryAttribute,
            "#entry": TableLayout.Attribute.entry, "#order": TableLayout.Attribute.order,
        ]
        for _ in 0..<5 {
            let expires = DynamoDBStore.expiry(after: DynamoDBStartupSemaphore.queueEntryTTL)
            let kept = try await unlessConditionFails {
                try await store.client.updateItem(
                    UpdateItem(
                        tableName: store.table, key: queueKey, updateExpression: "SET #owner = :owner, #expires = :expires, #entry = :entry",
                        conditionExpression: "attribute_exists(#order) AND #expires > :now", expressionAttributeNames: names,
                        expressionAttributeValues: [
                            ":owner": .s(owner), ":expires": .number(expires), ":entry": .s(entry), ":now": .number(DynamoDBStore.nowSeconds),
                        ]
                    ),
                    deadline: store.deadline()
                )
            }
            if kept { return }
            let ticket = try await store.nextNumber(of: label)
            var item = queueKey
            item[TableLayout.Attribute.owner] = .s(owner)
            item[TableLayout.expiryAttribute] = .number(expires)
            item[TableLayout.Attribute.entry] = .s(entry)
            item[TableLayout.Attribute.order] = .number(ticket)
            let created = try await store.putUnlessLive(item)
            if created { return }
        }
        throw DynamoDBBackendError(code: .queueEntryLost)
    }

    /// Every third of the queue TTL, a renewal conditioned on the owner token; once the item is
    /// gone (expired, or taken by another attempt of this id) it throws, unless a promotion
    /// took it.
    public func keepAlive() async throws -> Never {
        let ttl = DynamoDBStartupSemaphore.queueEntryTTL
        var lastRenewal = ContinuousClock.now
        while true {
            try await Task.sleep(for: ttl / 3)
            do {
                let renewed = try await store.renewExpiry(
                    of: queueKey, owner: owner, to: DynamoDBStore.expiry(after: ttl), deadline: store.deadline()
                )
                if !renewed {
                    // Promoted: the transaction deleted the item on purpose, so nothing is left to
                    // renew; wait for the cancellation that ends every keep-alive.
                    if state.promoting.withLock({ $0 }) { try await Task.sleep(for: .seconds(1_000_000_000)) }
                    throw DynamoDBBackendError(code: .queueEntryLost)
                }
                lastRenewal = .now
            } catch let error as DynamoDBError where error.code.isRetryable && ContinuousClock.now - lastRenewal < ttl {
                // Unreachable for now: try again at the next third, while the item may live.
                continue
            }
        }
    }

    public func leave() async throws {
        _ = try await store.delete(queueKey, ifOwnedBy: owner)
    }

    /// Reads, removes expired holders, and either promotes this waiter or sleeps one poll
    /// interval; until promoted.
    public func waitForSlot(slots: Int, leaseTimeout: Duration, report: @escaping @Sendable (StartupQueueReport) async -> Void) async throws {
        var lastReport: (position: Int, queueLength: Int, holders: [String])?
        var failedPromotions = 0
        while true {
            try Task.checkCancellation()
            let snapshot = StartupSnapshot(try await store.liveItems(in: layout.partition(label), sortPrefix: TableLayout.startupPrefix))
            // A promotion whose answer was lost may have committed: the holder item says so.
            if snapshot.holders.contains(where: { $0.serviceID == serviceID.rawValue && $0.owner == owner }) { return }
            let now = DynamoDBStore.nowMilliseconds
            let expired = snapshot.holders.filter { $0.ends <= now }
            if !expired.isEmpty {
                let semaphore = DynamoDBStartupSemaphore(store: store)
                for holder in expired {
                    guard let id = try? ServiceID(holder.serviceID) else { continue }
                    if try await semaphore.removeHolder(label, id, ends: holder.ends, onlyExpired: true) {
                        logger.info("removed the expired startup slot of \(holder.serviceID)")
                    }
                }
                continue
            }
            guard let position = snapshot.queue.firstIndex(where: { $0.serviceID == serviceID.rawValue && $0.owner == owner }) else {
                logger.warning("the queue entry of \(serviceID) vanished; queueing again")
                try await join()
                continue
            }
            if position < slots - snapshot.holders.count {
                if try await promote(slots: slots, leaseTimeout: leaseTimeout, ticket: snapshot.queue[position].ticket) { return }
                // Someone else took the slot since the read (or a transaction conflicted): read
                // again, after a short random pause so that contenders spread out.
                failedPromotions += 1
                if failedPromotions % 10 == 0 {
                    logger.warning(
                        "\(failedPromotions) promotions of \(serviceID) failed their conditions in a row; startup#count of \(label) may not match its holder items"
                    )
                }
                // A lost race is retried soon; a count that keeps refusing (an item deleted by
                // hand) is not hammered.
                try await Task.sleep(for: failedPromotions <= 3 ? .milliseconds(Int64.random(in: 0...max(1, pollMilliseconds / 4))) : store.pollInterval)
                continue
            }
            failedPromotions = 0
            let current = (position: position, queueLength: snapshot.queue.count, holders: snapshot.holders.map(\.serviceID))
            if lastReport.map({ $0 != current }) ?? true {
                lastReport = current
                await report(StartupQueueReport(
                    position: position, queueLength: snapshot.queue.count,
                    holders: snapshot.holders.map { .init(serviceID: $0.serviceID, timeLeft: DynamoDBStore.timeLeft(untilMilliseconds: $0.ends)) }
                ))
            }
            try await Task.sleep(for: store.pollInterval)
        }
    }

    private var pollMilliseconds: Int64 {
        let parts = store.pollInterval.components
        return parts.seconds * 1000 + parts.attoseconds / 1_000_000_000_000_000
    }

    /// One transaction: the count up while below `slots`, this holder item put, this waiter's
    /// own queue item deleted. `false` when a condition did not hold.
    private func promote(slots: Int, leaseTimeout: Duration, ticket: Int64) async throws -> Bool {
        state.promoting.withLock { $0 = true }
        var holder = layout.holder(label, serviceID)
        holder[TableLayout.Attribute.owner] = .s(owner)
        holder[TableLayout.Attribute.entry] = .s(entry)
        holder[TableLayout.Attribute.order] = .number(ticket)
        holder[TableLayout.Attribute.leaseEnds] = .number(DynamoDBStore.millisecondsAfter(leaseTimeout))
        let promoted = try await unlessConditionFails {
            try await store.client.transactWriteItems(
                TransactWriteItems(
                    [
                        .update(UpdateItem(
                            tableName: store.table, key: layout.holderCount(label), updateExpression: "ADD #count :one",
                            conditionExpression: "attribute_not_exists(#count) OR #count < :slots",
                            expressionAttributeNames: ["#count": TableLayout.Attribute.count],
                            expressionAttributeValues: [":one": .number(1), ":slots": .number(slots)]
                        )),
                        .put(PutItem(
                            tableName: store.table, item: holder, conditionExpression: "attribute_not_exists(#sk)",
                            expressionAttributeNames: ["#sk": TableLayout.sortKey]
                        )),
                        .delete(store.deletion(of: queueKey, ifOwnedBy: owner)),
                    ],
                    // A retry of the same request is applied once.
                    clientRequestToken: DynamoDBStore.newToken()
                ),
                deadline: store.deadline()
            )
        }
        if !promoted { state.promoting.withLock { $0 = false } }
        return promoted
    }
}
