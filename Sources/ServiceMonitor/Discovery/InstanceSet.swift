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
        members.values
            .sorted { ($0.createRevision, $0.key) < ($1.createRevision, $1.key) }
            .compactMap { $0.record }
            .filter { $0.state == .up }
    }
}
