public import ServiceMonitor

/// One read of a label's `startup/` keys: who holds a slot, who waits in which order, and the
/// admissions counter's version — everything a waiter decides on.
public struct StartupSnapshot: Sendable, Hashable {
    /// Holders, oldest first.
    public var holders: [StoreEntry]
    /// Waiters in the order they asked (create revision).
    public var queue: [StoreEntry]
    /// Version of the admissions counter (0: no promotion yet).
    public var admissionsVersion: Int64
    /// The store revision of the read.
    public var revision: Int64

    let layout: KeyLayout

    public init(listing: StoreListing, layout: KeyLayout, label: Label) {
        self.layout = layout
        let holdersPrefix = layout.startupHolders(label)
        let queuePrefix = layout.startupQueue(label)
        let admissions = layout.startupAdmissions(label)
        holders = listing.entries.filter { $0.key.hasPrefix(holdersPrefix) }.sorted { $0.createRevision < $1.createRevision }
        queue = listing.entries.filter { $0.key.hasPrefix(queuePrefix) }.sorted { $0.createRevision < $1.createRevision }
        admissionsVersion = listing.entries.first { $0.key == admissions }?.version ?? 0
        revision = listing.revision
    }

    /// The service ids of the holders, oldest first.
    public var holderIDs: [String] { holders.map { serviceID(ofKey: $0.key) } }

    /// The service ids of the waiters, first in line first.
    public var queueIDs: [String] { queue.map { serviceID(ofKey: $0.key) } }

    /// How many waiters are ahead of the entry at `key`; `nil` when it is not queued.
    public func position(of key: String) -> Int? {
        queue.firstIndex { $0.key == key }
    }

    /// The holder entry at `key`, if that id holds a slot.
    public func holder(at key: String) -> StoreEntry? {
        holders.first { $0.key == key }
    }

    /// What the waiter queued at `key` does next with `slots` slots.
    public func decision(for key: String, slots: Int) -> StartupDecision {
        guard let position = position(of: key) else { return .notQueued }
        let free = slots - holders.count
        if position < free {
            return .promote(queueCreateRevision: queue[position].createRevision, admissionsVersion: admissionsVersion)
        }
        // No herd: only the head waits on the holders; everyone else waits on the one waiter
        // right ahead, and is woken when that one leaves the queue (promoted, gave up, died).
        if position == 0 { return .waitForHolders }
        return .waitForPredecessor(key: queue[position - 1].key)
    }

    /// The service id of a holder or queue key.
    func serviceID(ofKey key: String) -> String {
        layout.entry(at: key)?.serviceID ?? key
    }
}

/// The next step of a waiter, decided on one ``StartupSnapshot``.
public enum StartupDecision: Sendable, Hashable {
    /// A slot is free for this waiter: move from queue to holder, if nothing changed since the read.
    case promote(queueCreateRevision: Int64, admissionsVersion: Int64)
    /// First in line, every slot taken: wait until a holder leaves.
    case waitForHolders
    /// Wait until the waiter right ahead (at `key`) leaves the queue.
    case waitForPredecessor(key: String)
    /// The queue entry is gone (its lease lost): it must be written again.
    case notQueued
}
