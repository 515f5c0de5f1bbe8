import Etcd
public import ServiceMonitor

/// Instance records at `<prefix>/<label>/instances/<service-id>`, each bound to the lease its
/// watcher keeps alive; registration order is create revision.
public struct EtcdInstanceRegistry: InstanceRegistry {
    let store: EtcdStateStore
    let layout: KeyLayout

    public func register(_ serviceID: ServiceID, of label: Label, ttl: Duration) async throws -> EtcdRegistration {
        let lease = try await store.grantLease(ttl: ttl)
        return EtcdRegistration(store: store, key: layout.instance(label, serviceID), lease: lease, ttl: ttl)
    }

    /// One linearizable range read, each record decoded where the answer holds it.
    public func instances(of label: Label, keeping fields: InstanceRecord.Fields) async throws -> [InstanceRecord] {
        let listed = try await store.list(prefix: layout.instances(label)) { kv -> InstanceSet.Listed? in
            (try? InstanceRecord.decode(kv.value, keeping: fields)).map { InstanceSet.Listed(order: kv.createRevision, record: $0) }
        }
        return InstanceSet.all(ofListing: listed)
    }

    /// A listing, then a watch from its revision that resumes after member loss; a compacted
    /// revision is handled by listing again.
    public func follow(_ label: Label, _ body: @escaping @Sendable ([InstanceRecord]) async throws -> Bool) async throws {
        let prefix = layout.instances(label)
        let state = FollowedSet()
        while true {
            let listing = try await store.list(prefix: prefix)
            state.set = InstanceSet(listing)
            guard try await body(state.set.all) else { return }
            do {
                try await store.watch(prefix: prefix, after: listing.revision) { changes in
                    state.set.apply(changes)
                    return try await body(state.set.all)
                }
                return
            } catch is StoreCompactedError {
                continue
            }
        }
    }
}

/// What `follow` keeps between batches; one batch (or listing) is handled at a time, so nothing
/// touches it concurrently.
private final class FollowedSet: @unchecked Sendable {
    var set = InstanceSet()
}

/// One watcher's record and the lease it is bound to.
public struct EtcdRegistration: InstanceRegistration {
    let store: EtcdStateStore
    let key: String
    let lease: Int64
    let ttl: Duration

    public var location: String { key }
    public var handle: String { "\(lease)" }

    public func publish(_ record: InstanceRecord) async throws {
        try await store.put(key, value: try record.encoded(), lease: lease)
    }

    public func keepAlive() async throws -> Never {
        try await store.keepAlive(lease: lease, ttl: ttl)
    }

    /// Revoking the lease deletes the record.
    public func end() async throws {
        try await store.revokeLease(lease)
    }
}

extension InstanceSet {
    init(_ listing: StoreListing) {
        self.init(capacity: listing.entries.count)
        for entry in listing.entries { put(key: entry.key, order: entry.createRevision, value: entry.value) }
    }

    mutating func apply(_ changes: [StoreChange]) {
        for change in changes {
            switch change {
            case .put(let entry): put(key: entry.key, order: entry.createRevision, value: entry.value)
            case .delete(let key): remove(key: key)
            }
        }
    }
}
