/// What service-monitor needs from the shared store. The etcd client satisfies it; the core knows
/// nothing about gRPC or etcd's wire types, so another backend could be added.
public protocol StateStore: Sendable {
    /// Grants a lease that ends `ttl` after its last renewal; returns its id.
    func grantLease(ttl: Duration) async throws -> Int64
    /// Renews the lease (granted with `ttl`) until the task is cancelled; throws once the lease
    /// is lost (expired, revoked, or no member reachable before it ran out).
    func keepAlive(lease: Int64, ttl: Duration) async throws -> Never
    /// Ends the lease now, deleting every key bound to it.
    func revokeLease(_ lease: Int64) async throws
    /// How long the lease has left, or `nil` when it no longer exists.
    func timeToLive(lease: Int64) async throws -> Duration?
    /// Writes `value` at `key`, bound to `lease`.
    func put(_ key: String, value: [UInt8], lease: Int64) async throws

    /// Every key under `prefix` with the store revision of the read (linearizable).
    func list(prefix: String) async throws -> StoreListing
    /// Hands each batch of changes under `prefix` after `revision` to `body`, in order, until
    /// `body` returns `false`; survives member loss without losing or repeating a change.
    /// Throws ``StoreCompactedError`` when `revision` is no longer available (list again).
    func watch(prefix: String, after revision: Int64, _ body: @Sendable ([StoreChange]) async throws -> Bool) async throws
    /// Like ``watch(prefix:after:_:)`` for exactly one key (a prefix watch of `…/s-1` would also
    /// see `…/s-10`).
    func watch(key: String, after revision: Int64, _ body: @Sendable ([StoreChange]) async throws -> Bool) async throws

    /// Applies `operations` atomically if every condition holds; returns whether it did.
    func commit(if conditions: [StoreCondition], then operations: [StoreOperation]) async throws -> Bool

    /// Whether retrying cannot cure `error` (thrown by this store): the store refused these
    /// credentials, this user's permissions or the TLS setup. `watch` ends with such an error
    /// instead of retrying it forever as if the store were unreachable.
    func isPermanent(_ error: any Error) -> Bool
}

extension StateStore {
    public func isPermanent(_ error: any Error) -> Bool { false }
}

/// A condition of ``StateStore/commit(if:then:)``, checked against one key's current state.
public enum StoreCondition: Sendable, Hashable {
    /// The key was created at `revision` (0: the key does not exist).
    case createRevision(key: String, equals: Int64)
    /// The key has been written `version` times since it was created (0: it does not exist).
    case version(key: String, equals: Int64)
    /// The key is bound to `lease`.
    case lease(key: String, equals: Int64)
}

/// An operation of ``StateStore/commit(if:then:)``.
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
