// The etcd backend's view of etcd: keys with create revisions, versions and leases, listings
// at a revision, and watches after one. Nothing outside this target sees these types.

/// A condition of ``EtcdStateStore/commit(if:then:)``, checked against the current state of one
/// key (or, for ``noKeys(prefix:)``, of every key under a prefix).
public enum StoreCondition: Sendable, Hashable {
    /// The key was created at `revision` (0: the key does not exist).
    case createRevision(key: String, equals: Int64)
    /// The key has been written `version` times since it was created (0: it does not exist).
    case version(key: String, equals: Int64)
    /// The key is bound to `lease`.
    case lease(key: String, equals: Int64)
    /// No key starts with `prefix`.
    case noKeys(prefix: String)
}

/// An operation of ``EtcdStateStore/commit(if:then:)``.
public enum StoreOperation: Sendable, Hashable {
    case put(key: String, value: [UInt8], lease: Int64)
    case delete(key: String)
}

public struct StoreEntry: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]
    /// When the key was created; ordering by it is ordering by registration.
    public var createRevision: Int64
    /// The lease the key is bound to (0: none).
    public var lease: Int64
    /// Writes since the key was created (1 after the first).
    public var version: Int64

    public init(key: String, value: [UInt8], createRevision: Int64, lease: Int64 = 0, version: Int64 = 1) {
        self.key = key
        self.value = value
        self.createRevision = createRevision
        self.lease = lease
        self.version = version
    }
}

public struct StoreListing: Sendable {
    public var revision: Int64
    public var entries: [StoreEntry]

    public init(revision: Int64, entries: [StoreEntry]) {
        self.revision = revision
        self.entries = entries
    }
}

public enum StoreChange: Sendable, Hashable {
    case put(StoreEntry)
    case delete(key: String)
}

/// The revision a watch asked for is gone (compacted); the caller lists again.
public struct StoreCompactedError: Error, Sendable {
    public init() {}
}
