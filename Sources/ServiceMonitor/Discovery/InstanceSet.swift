/// The instances of one label as the store has them, kept current from a listing plus the
/// changes a watch delivers.
public struct InstanceSet: Sendable {
    /// One key of the label, its record decoded once when it arrives, so following a label of
    /// thousands of instances does not decode every record again on each change.
    private struct Member: Sendable {
        let key: String
        let createRevision: Int64
        /// nil when the value does not decode (written by something else).
        let record: InstanceRecord?

        init(_ entry: StoreEntry) {
            key = entry.key
            createRevision = entry.createRevision
            record = try? InstanceRecord.decode(entry.value)
        }
    }

    private var members: [String: Member] = [:]

    public init(_ listing: StoreListing) {
        members.reserveCapacity(listing.entries.count)  // growing it rehashed every key ~twice
        for entry in listing.entries { members[entry.key] = Member(entry) }
    }

    public mutating func apply(_ changes: [StoreChange]) {
        for change in changes {
            switch change {
            case .put(let entry): members[entry.key] = Member(entry)
            case .delete(let key): members[key] = nil
            }
        }
    }

    /// Instances that are up, oldest registration first. Records that do not decode (written by
    /// something else) are skipped rather than failing discovery for everyone.
    public var up: [InstanceRecord] {
        // Sorts only the members that are up, and by reference: moving whole records around
        // in the sort cost more than the comparisons.
        let upMembers = members.values.filter { $0.record?.state == .up }
        return upMembers.indices
            .sorted { (upMembers[$0].createRevision, upMembers[$0].key) < (upMembers[$1].createRevision, upMembers[$1].key) }
            .map { upMembers[$0].record! }
    }
}
