/// The instances of one label as a backend has them, kept current from a listing plus the
/// changes that follow it. `Order` is the backend's registration order (etcd: create revision).
public struct InstanceSet<Order: Comparable & Sendable>: Sendable {
    /// One instance, its record decoded once when it arrives, so following a label of
    /// thousands of instances does not decode every record again on each change.
    private struct Member: Sendable {
        let key: String
        let order: Order
        /// nil when the value does not decode (written by something else).
        let record: InstanceRecord?
    }

    private var members: [String: Member] = [:]

    public init(capacity: Int = 0) {
        members.reserveCapacity(capacity)  // growing it rehashed every key ~twice
    }

    /// Adds or replaces the instance stored under `key`.
    public mutating func put(key: String, order: Order, value: some Collection<UInt8>) {
        members[key] = Member(key: key, order: order, record: try? InstanceRecord.decode(value))
    }

    public mutating func remove(key: String) {
        members[key] = nil
    }

    /// Every instance whose record decodes, oldest registration first (ties by key).
    public var all: [InstanceRecord] { sorted { $0.record != nil } }

    /// The instances that are up, oldest registration first.
    public var up: [InstanceRecord] { sorted { $0.record?.state == .up } }

    /// Sorts only the members that pass, and by reference: moving whole records around in the
    /// sort cost more than the comparisons.
    private func sorted(where included: (Member) -> Bool) -> [InstanceRecord] {
        let chosen = members.values.filter(included)
        return chosen.indices
            .sorted { (chosen[$0].order, chosen[$0].key) < (chosen[$1].order, chosen[$1].key) }
            .map { chosen[$0].record! }
    }
}
