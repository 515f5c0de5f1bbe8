/// A key and its value as stored in etcd, with the revisions that describe its history.
public struct KeyValue: Sendable, Hashable {
    /// The key's bytes.
    public var key: [UInt8]
    /// The value's bytes (empty when the read was keys-only).
    public var value: [UInt8]
    /// Revision of the transaction that created the key (since its last deletion).
    public var createRevision: Int64
    /// Revision of the transaction that last modified the key.
    public var modRevision: Int64
    /// Number of modifications since creation; 0 for a deleted key.
    public var version: Int64
    /// Lease the key is attached to, 0 for none.
    public var lease: Int64

    public init(
        key: [UInt8],
        value: [UInt8],
        createRevision: Int64 = 0,
        modRevision: Int64 = 0,
        version: Int64 = 0,
        lease: Int64 = 0
    ) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.modRevision = modRevision
        self.version = version
        self.lease = lease
    }

    /// The key decoded as UTF-8 (invalid sequences repaired).
    public var keyString: String { String(decoding: self.key, as: UTF8.self) }
    /// The value decoded as UTF-8 (invalid sequences repaired).
    public var valueString: String { String(decoding: self.value, as: UTF8.self) }
}

/// Where in etcd's history a response was produced.
public struct ResponseHeader: Sendable, Hashable {
    /// The store's revision when the request was applied.
    public var revision: Int64
    /// Raft term of the member that answered.
    public var raftTerm: UInt64
    /// ID of the cluster.
    public var clusterID: UInt64
    /// ID of the member that answered.
    public var memberID: UInt64

    public init(revision: Int64, raftTerm: UInt64 = 0, clusterID: UInt64 = 0, memberID: UInt64 = 0) {
        self.revision = revision
        self.raftTerm = raftTerm
        self.clusterID = clusterID
        self.memberID = memberID
    }
}

/// A set of keys: one key, every key with a prefix, or a half-open interval.
public struct KeyRange: Sendable, Hashable {
    /// First key of the range.
    public var key: [UInt8]
    /// End of the range, exclusive; empty for a single key, `[0]` for "every key from `key` on".
    public var rangeEnd: [UInt8]

    public init(key: [UInt8], rangeEnd: [UInt8]) {
        self.key = key
        self.rangeEnd = rangeEnd
    }

    /// Exactly one key.
    public static func key(_ key: some EtcdBytesConvertible) -> Self {
        Self(key: key.etcdBytes, rangeEnd: [])
    }

    /// Every key starting with `prefix` (every key at all for an empty prefix).
    public static func prefix(_ prefix: some EtcdBytesConvertible) -> Self {
        let bytes = prefix.etcdBytes
        return Self(key: bytes.isEmpty ? [0] : bytes, rangeEnd: Self.prefixEnd(of: bytes))
    }

    /// Keys from `start` (inclusive) to `end` (exclusive).
    public static func interval(from start: some EtcdBytesConvertible, to end: some EtcdBytesConvertible) -> Self {
        Self(key: start.etcdBytes, rangeEnd: end.etcdBytes)
    }

    /// Every key greater than or equal to `start`.
    public static func fromKey(_ start: some EtcdBytesConvertible) -> Self {
        Self(key: start.etcdBytes, rangeEnd: [0])
    }

    /// The smallest key greater than every key with this prefix: the prefix with its last
    /// non-0xFF byte incremented (etcd's convention; `[0]` means "to the end").
    static func prefixEnd(of prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return [0]
    }
}
