import Etcd

/// The etcd client in the terms the backend's algorithms use: leases, keys with create
/// revisions, guarded transactions and watches after a revision.
struct EtcdStateStore: Sendable {
    let client: EtcdClient

    func grantLease(ttl: Duration) async throws -> Int64 {
        // etcd leases are whole seconds; round up so the lease never ends before --ttl.
        let seconds = max(1, ttl.components.seconds + (ttl.components.attoseconds > 0 ? 1 : 0))
        return try await client.grantLease(ttl: seconds).id
    }

    func keepAlive(lease: Int64, ttl: Duration) async throws -> Never {
        try await client.keepAlive(lease, grantedTTL: ttl)
    }

    /// Starts the lease's TTL again from now.
    func renewLease(_ lease: Int64) async throws {
        _ = try await client.renewLease(lease)
    }

    func revokeLease(_ lease: Int64) async throws {
        _ = try await client.revokeLease(lease)
    }

    func timeToLive(lease: Int64) async throws -> Duration? {
        do {
            let ttl = try await client.leaseTimeToLive(lease).ttl
            return ttl > 0 ? .seconds(ttl) : nil
        } catch where error.code == .leaseNotFound {
            return nil
        }
    }

    func put(_ key: String, value: [UInt8], lease: Int64) async throws {
        _ = try await client.put(key, value: value, lease: lease)
    }

    /// The entry at exactly `key`, if it exists (one linearizable read).
    func entry(at key: String) async throws -> StoreEntry? {
        try await list(prefix: key).entries.first { $0.key == key }
    }

    /// ``entry(at:)`` to settle a request whose outcome is unknown: `nil` when the read itself
    /// failed, `.some(nil)` when it succeeded and the key does not exist.
    func settledEntry(at key: String) async -> StoreEntry?? {
        do {
            return .some(try await entry(at: key))
        } catch {
            return nil
        }
    }

    func list(prefix: String) async throws -> StoreListing {
        let response = try await client.range(.prefix(prefix))
        return StoreListing(revision: response.header.revision, entries: response.kvs.map(StoreEntry.init))
    }

    /// What `read` keeps of each key under `prefix` (handed over where the answer holds it), in
    /// key order: a listing reduced as it is read, for one read that no watch follows.
    func list<Entry: Sendable>(prefix: String, reading read: @escaping @Sendable (KeyValueView) -> Entry?) async throws -> [Entry] {
        try await client.range(.prefix(prefix), reading: read).entries
    }

    func watch(prefix: String, after revision: Int64, _ body: @Sendable ([StoreChange]) async throws -> Bool) async throws {
        try await watch(.prefix(prefix), after: revision, body)
    }

    func watch(key: String, after revision: Int64, _ body: @Sendable ([StoreChange]) async throws -> Bool) async throws {
        try await watch(.key(key), after: revision, body)
    }

    func commit(if conditions: [StoreCondition], then operations: [StoreOperation]) async throws -> Bool {
        try await client.txn(if: conditions.map(Compare.init), then: operations.map(TxnOperation.init)).succeeded
    }

    /// Whether etcd refused a write because its NOSPACE alarm is raised.
    func isOutOfSpace(_ error: any Error) -> Bool {
        (error as? EtcdError)?.code == .noSpace
    }

    /// Whether retrying cannot cure `error`: etcd refused these credentials, this user's
    /// permissions or the TLS setup.
    func isPermanent(_ error: any Error) -> Bool {
        guard let error = error as? EtcdError else { return false }
        // A handshake cut short is what a member going down looks like, not a refusal.
        if error.code == .tlsFailure { return !error.connectionClosedDuringHandshake }
        return [.permissionDenied, .authenticationFailed, .invalidConfiguration].contains(error.code)
    }

    private func watch(_ range: KeyRange, after revision: Int64, _ body: @Sendable ([StoreChange]) async throws -> Bool) async throws {
        do {
            try await client.watch(range, options: WatchOptions(startRevision: revision + 1)) { batches in
                for try await batch in batches where !batch.events.isEmpty {
                    let changes = batch.events.map { event -> StoreChange in
                        event.kind == .put ? .put(StoreEntry(event.kv)) : .delete(key: event.kv.keyString)
                    }
                    guard try await body(changes) else { return }
                }
            }
        } catch let error as EtcdError where error.code == .compacted {
            throw StoreCompactedError()
        }
    }
}

extension StoreEntry {
    init(_ kv: KeyValue) {
        self.init(key: kv.keyString, value: kv.value, createRevision: kv.createRevision, lease: kv.lease, version: kv.version)
    }
}

extension Compare {
    init(_ condition: StoreCondition) {
        switch condition {
        case .createRevision(let key, let revision): self = .createRevision(key, .equal, revision)
        case .version(let key, let version): self = .version(key, .equal, version)
        case .lease(let key, let lease): self = .lease(key, .equal, lease)
        case .noKeys(let prefix): self = .version(.prefix(prefix), .equal, 0)
        }
    }
}

extension TxnOperation {
    init(_ operation: StoreOperation) {
        switch operation {
        case .put(let key, let value, let lease): self = .put(key, value, lease: lease)
        case .delete(let key): self = .delete(key)
        }
    }
}
