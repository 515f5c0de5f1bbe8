/// How to read a range of keys.
public struct RangeOptions: Sendable, Hashable {
    /// How results are sorted.
    public enum SortOrder: Sendable, Hashable {
        case ascending, descending
    }

    /// Which field results are sorted by.
    public enum SortTarget: Sendable, Hashable {
        case key, version, createRevision, modRevision, value
    }

    /// At most this many keys; 0 for no limit.
    public var limit: Int64
    /// Return keys without values.
    public var keysOnly: Bool
    /// Return only the count, no keys.
    public var countOnly: Bool
    /// Read as of this past revision; 0 for the latest.
    public var revision: Int64
    /// Let the member answer from its local state without asking the leader: faster and
    /// available without quorum, but possibly stale. Reads are linearizable by default.
    public var serializable: Bool
    /// Sorting; `nil` keeps etcd's order (ascending by key).
    public var sort: (target: SortTarget, order: SortOrder)?

    public init(
        limit: Int64 = 0,
        keysOnly: Bool = false,
        countOnly: Bool = false,
        revision: Int64 = 0,
        serializable: Bool = false,
        sort: (target: SortTarget, order: SortOrder)? = nil
    ) {
        self.limit = limit
        self.keysOnly = keysOnly
        self.countOnly = countOnly
        self.revision = revision
        self.serializable = serializable
        self.sort = sort
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.limit == rhs.limit && lhs.keysOnly == rhs.keysOnly && lhs.countOnly == rhs.countOnly
            && lhs.revision == rhs.revision && lhs.serializable == rhs.serializable
            && lhs.sort?.target == rhs.sort?.target && lhs.sort?.order == rhs.sort?.order
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.limit)
        hasher.combine(self.keysOnly)
        hasher.combine(self.countOnly)
        hasher.combine(self.revision)
        hasher.combine(self.serializable)
        hasher.combine(self.sort?.target)
        hasher.combine(self.sort?.order)
    }
}

/// The result of a range read.
public struct RangeResponse: Sendable, Hashable {
    public var header: ResponseHeader
    /// The keys found (empty for `countOnly`).
    public var kvs: [KeyValue]
    /// Total number of keys in the range, regardless of `limit`.
    public var count: Int64
    /// Whether `limit` cut the result short.
    public var more: Bool
}

/// The result of a put.
public struct PutResponse: Sendable, Hashable {
    public var header: ResponseHeader
    /// The key's previous state, when requested and the key existed.
    public var prevKV: KeyValue?
}

/// The result of a delete.
public struct DeleteResponse: Sendable, Hashable {
    public var header: ResponseHeader
    /// How many keys were deleted.
    public var deleted: Int64
    /// The deleted keys' last state, when requested.
    public var prevKVs: [KeyValue]
}
