/// The instances of one label as a backend has them, kept current from a listing plus the
/// changes that follow it, each with the backend's registration order (etcd: the key's create
/// revision). Not generic: unspecialized generic code copied every member through the runtime's
/// value witnesses, and sorting 10 000 instances that way was half of a `hosts`.
public struct InstanceSet: Sendable {
    /// One instance, its record decoded once when it arrives, so following a label of
    /// thousands of instances does not decode every record again on each change.
    struct Member: Sendable {
        let key: String
        let order: Int64
        /// nil when the value does not decode (written by something else).
        let record: InstanceRecord?

        init(key: String, order: Int64, record: InstanceRecord?) {
            self.key = key
            self.order = order
            self.record = record
        }
    }

    private var members: [String: Member] = [:]
    /// What each record is read for (``InstanceRecord/decode(_:keeping:)``).
    private let keeping: InstanceRecord.Fields

    public init(capacity: Int = 0, keeping: InstanceRecord.Fields = .all) {
        members.reserveCapacity(capacity)  // growing it rehashed every key ~twice
        self.keeping = keeping
    }

    /// Adds or replaces the instance stored under `key`.
    public mutating func put(key: String, order: Int64, value: [UInt8]) {
        members[key] = Member(key: key, order: order, record: try? InstanceRecord.decode(value, keeping: keeping))
    }

    public mutating func remove(key: String) {
        members[key] = nil
    }

    /// Every instance whose record decodes, oldest registration first (ties by key).
    public var all: [InstanceRecord] { Self.sorted(members.values) { $0.record != nil } }

    /// The instances that are up, oldest registration first.
    public var up: [InstanceRecord] { Self.sorted(members.values) { $0.record?.state == .up } }

    /// One record of a listing that is read once (``all(ofListing:)``): no key, since the
    /// listing's own order breaks ties.
    public struct Listed: Sendable {
        let order: Int64
        let record: InstanceRecord

        public init(order: Int64, record: InstanceRecord) {
            self.order = order
            self.record = record
        }
    }

    /// What ``all`` would be for a listing in key order (as etcd lists), without building the
    /// set: for one read that is not followed by changes. Ties go by position, which is key
    /// order; no key string is built or compared (a listing written 100 records to a
    /// transaction has ties everywhere).
    public static func all(ofListing listed: [Listed]) -> [InstanceRecord] {
        // The orders in an array of their own, which the comparisons read without reaching
        // through the entries and their records.
        let orders = listed.map(\.order)
        var positions = Array(listed.indices)
        positions.sort { a, b in orders[a] != orders[b] ? orders[a] < orders[b] : a < b }
        return positions.map { listed[$0].record }
    }

    /// Sorts the positions of the members that pass, reading order and key where each member
    /// lies, and copies out only the sorted records: copying members (key and record) into arrays
    /// to sort first, then the records again, was three copies of every record of a listing.
    private static func sorted<Members: Collection<Member>>(_ members: Members, where included: (Member) -> Bool) -> [InstanceRecord] {
        var positions = members.indices.filter { included(members[$0]) }
        positions.sort { a, b in
            members[a].order != members[b].order ? members[a].order < members[b].order : members[a].key < members[b].key
        }
        return positions.map { members[$0].record! }
    }
}
