/// The instances of one label as the store has them, kept current from a listing plus the
/// changes a watch delivers.
public struct InstanceSet: Sendable {
    private var entries: [String: StoreEntry] = [:]

    public init(_ listing: StoreListing) {
        for entry in listing.entries { entries[entry.key] = entry }
    }

    public mutating func apply(_ changes: [StoreChange]) {
        for change in changes {
            switch change {
            case .put(let entry): entries[entry.key] = entry
            case .delete(let key): entries[key] = nil
            }
        }
    }

    /// Instances that are up, oldest registration first. Records that do not decode (written by
    /// something else) are skipped rather than failing discovery for everyone.
    public var up: [InstanceRecord] {
        entries.values
            .sorted { ($0.createRevision, $0.key) < ($1.createRevision, $1.key) }
            .compactMap { try? InstanceRecord.decode($0.value) }
            .filter { $0.state == .up }
    }
}
