/// `hosts`: which instances of a label are up, once, until enough are, or on every change.
public struct Discovery<Store: StateStore>: Sendable {
    public let store: Store
    public let prefix: String

    public init(store: Store, layout: KeyLayout, label: Label) {
        self.store = store
        self.prefix = layout.instances(label)
    }

    /// One linearizable read.
    public func current() async throws -> [InstanceRecord] {
        try await InstanceSet(store.list(prefix: prefix)).up
    }

    /// Calls `body` with the instances that are up now and again after every change of the set
    /// (not on writes that leave it as it was), until `body` returns `false`. Driven by a watch
    /// that resumes after member loss; a compacted revision is handled by listing again.
    public func follow(_ body: @escaping @Sendable ([InstanceRecord]) async throws -> Bool) async throws {
        let state = FollowState()
        while true {
            let listing = try await store.list(prefix: prefix)
            state.set = InstanceSet(listing)
            guard try await state.deliverIfChanged(body) else { return }
            do {
                try await store.watch(prefix: prefix, after: listing.revision) { changes in
                    state.set.apply(changes)
                    return try await state.deliverIfChanged(body)
                }
                return
            } catch is StoreCompactedError {
                continue
            }
        }
    }
}

/// What `follow` tracks between batches; only one batch (or listing) is handled at a time, so
/// nothing touches it concurrently.
private final class FollowState: @unchecked Sendable {
    var set = InstanceSet(StoreListing(revision: 0, entries: []))
    var delivered: [InstanceRecord]?

    func deliverIfChanged(_ body: @Sendable ([InstanceRecord]) async throws -> Bool) async throws -> Bool {
        let up = set.up
        guard up != delivered else { return true }
        delivered = up
        return try await body(up)
    }
}
