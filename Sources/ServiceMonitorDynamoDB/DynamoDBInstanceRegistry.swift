import DynamoDB
public import ServiceMonitor
import Synchronization

/// Instance records at `pk = <prefix>/<label>`, `sk = instance#<service-id>`, each with an
/// `expires` its watcher renews every ttl/3 by an update conditioned on its owner token;
/// registration order is the label counter's number taken when the record first appeared.
public struct DynamoDBInstanceRegistry: InstanceRegistry {
    let store: DynamoDBStore

    /// Nothing is written until the first publish; the registration's expiry starts now.
    public func register(_ serviceID: ServiceID, of label: Label, ttl: Duration) async throws -> DynamoDBRegistration {
        DynamoDBRegistration(
            store: store, label: label, serviceID: serviceID, ttl: ttl, owner: DynamoDBStore.newToken(),
            state: RegistrationState(expires: DynamoDBStore.expiry(after: ttl))
        )
    }

    /// One consistent query; expired records are dropped by its filter.
    public func instances(of label: Label, keeping fields: InstanceRecord.Fields) async throws -> [InstanceRecord] {
        try await instanceSet(of: label, keeping: fields).all
    }

    func instanceSet(of label: Label, keeping fields: InstanceRecord.Fields = .all) async throws -> InstanceSet {
        let items = try await store.liveItems(in: store.layout.partition(label), sortPrefix: TableLayout.instancePrefix)
        return InstanceSet(items, keeping: fields)
    }

    /// Reads every `--poll-interval` and hands over the set when it changed (DynamoDB has no watch).
    public func follow(_ label: Label, _ body: @escaping @Sendable ([InstanceRecord]) async throws -> Bool) async throws {
        var last: [InstanceRecord]?
        while true {
            let current = try await instances(of: label)
            if current != last {
                guard try await body(current) else { return }
                last = current
            }
            try await Task.sleep(for: store.pollInterval)
        }
    }
}

extension InstanceSet {
    init(_ items: [Item], keeping fields: InstanceRecord.Fields = .all) {
        self.init(capacity: items.count, keeping: fields)
        for item in items {
            guard let key = item.sortKey, let record = item.string(TableLayout.Attribute.record) else { continue }
            put(key: key, order: item.int64(TableLayout.Attribute.order) ?? .max, value: Array(record.utf8))
        }
    }
}

/// What a registration knows of its item: the expiry it last wrote (or would write).
final class RegistrationState: Sendable {
    struct Lease {
        /// Epoch seconds.
        var expires: Int64
        /// Whether an item was written: before that, renewals only move `expires` here.
        var published = false
    }

    let lease: Mutex<Lease>
    init(expires: Int64) { self.lease = Mutex(Lease(expires: expires)) }

    var expires: Int64 { lease.withLock { $0.expires } }
}

/// One watcher's record and the owner token its renewals are conditioned on.
public struct DynamoDBRegistration: InstanceRegistration {
    let store: DynamoDBStore
    let label: Label
    let serviceID: ServiceID
    let ttl: Duration
    let owner: String
    let state: RegistrationState

    var key: Item { store.layout.instance(label, serviceID) }

    public var location: String { "dynamodb:\(store.table)/\(store.layout.partition(label))/\(TableLayout.instancePrefix)\(serviceID)" }
    public var handle: String { owner }

    private static let names = [
        "#record": TableLayout.Attribute.record, "#owner": TableLayout.Attribute.owner,
        "#expires": TableLayout.expiryAttribute, "#order": TableLayout.Attribute.order,
    ]

    /// Replaces a live record of this id in place (keeping its order), else writes a new one
    /// with the next number of the label's counter; expires at the registration's expiry.
    public func publish(_ record: InstanceRecord) async throws {
        let expires = state.expires
        guard expires > DynamoDBStore.nowSeconds else { throw DynamoDBBackendError(code: .registrationLost) }
        let json = String(decoding: try record.encoded(), as: UTF8.self)
        for _ in 0..<5 {
            let replaced = try await unlessConditionFails {
                try await store.client.updateItem(
                    UpdateItem(
                        tableName: store.table, key: key, updateExpression: "SET #record = :record, #owner = :owner, #expires = :expires",
                        conditionExpression: "attribute_exists(#order) AND #expires > :now",
                        expressionAttributeNames: Self.names,
                        expressionAttributeValues: [
                            ":record": .s(json), ":owner": .s(owner), ":expires": .number(expires), ":now": .number(DynamoDBStore.nowSeconds),
                        ]
                    ),
                    deadline: store.deadline()
                )
            }
            if replaced { return state.lease.withLock { $0.published = true } }
            // None, or only an expired one: a new record, last in registration order.
            let order = try await store.nextNumber(of: label)
            try await store.noteLabel(label)
            var item = key
            item[TableLayout.Attribute.record] = .s(json)
            item[TableLayout.Attribute.owner] = .s(owner)
            item[TableLayout.expiryAttribute] = .number(expires)
            item[TableLayout.Attribute.order] = .number(order)
            let created = try await store.putUnlessLive(item)
            if created { return state.lease.withLock { $0.published = true } }
            // Another process created it meanwhile: replace that one.
        }
        throw DynamoDBBackendError(code: .registrationLost)
    }

    /// Every ttl/3 moves the expiry to a full ttl ahead, if the item is still this owner's and
    /// alive. A failed request is tried again until the expiry passes.
    public func keepAlive() async throws -> Never {
        while true {
            try await Task.sleep(for: ttl / 3)
            let expires = DynamoDBStore.expiry(after: ttl)
            while true {
                let (current, published) = state.lease.withLock { ($0.expires, $0.published) }
                guard current > DynamoDBStore.nowSeconds else { throw DynamoDBBackendError(code: .registrationLost) }
                guard published else {
                    // Nothing written yet: the registration lives on in this process.
                    state.lease.withLock { $0.expires = expires }
                    break
                }
                do {
                    let renewed = try await store.renewExpiry(
                        of: key, owner: owner, to: expires,
                        deadline: store.deadline(atMost: ContinuousClock.now + .seconds(current - DynamoDBStore.nowSeconds))
                    )
                    guard renewed else { throw DynamoDBBackendError(code: .registrationLost) }
                    state.lease.withLock { $0.expires = expires }
                    break
                } catch let error as DynamoDBError where error.code.isRetryable {
                    try await Task.sleep(for: min(ttl / 10, .seconds(1)))
                }
            }
        }
    }

    /// Deletes the record if it is still this owner's.
    public func end() async throws {
        state.lease.withLock { $0.expires = 0 }
        _ = try await store.delete(key, ifOwnedBy: owner)
    }
}
