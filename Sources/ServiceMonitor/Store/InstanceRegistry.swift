/// Where `watch` publishes an instance's record and `hosts` finds the instances of a label.
public protocol InstanceRegistry: Sendable {
    associatedtype Registration: InstanceRegistration

    /// Starts a registration of `serviceID` under `label` that lives `ttl` after its last
    /// renewal. Nothing is visible until its first ``InstanceRegistration/publish(_:)``.
    func register(_ serviceID: ServiceID, of label: Label, ttl: Duration) async throws -> Registration

    /// Every instance of `label`, in any state, oldest registration first: one read that sees
    /// every write acknowledged before it (linearizable). Values that are not instance records
    /// (written by something else) are left out, whatever `fields` is. Fields outside `fields`
    /// may be left empty ("" and no info): a reader that prints only hosts need not build the
    /// rest.
    func instances(of label: Label, keeping fields: InstanceRecord.Fields) async throws -> [InstanceRecord]

    /// Calls `body` with every instance of `label` (as ``instances(of:)`` orders them) now and
    /// again after every change, until `body` returns `false`: changes that come while `body`
    /// runs may be handed over as one, the latest set. Survives the loss of a store member
    /// without losing a change; `body` may see a set equal to the one before.
    func follow(_ label: Label, _ body: @escaping @Sendable ([InstanceRecord]) async throws -> Bool) async throws
}

extension InstanceRegistry {
    /// Every instance of `label`, whole (``instances(of:keeping:)``).
    public func instances(of label: Label) async throws -> [InstanceRecord] {
        try await instances(of: label, keeping: .all)
    }
}

/// One instance's place in the registry, held by the process that keeps it alive.
public protocol InstanceRegistration: Sendable {
    /// Where the record lives, for people (etcd: its key).
    var location: String { get }
    /// The store's handle on the registration, for logs (etcd: the lease id).
    var handle: String { get }
    /// Writes `record` (the first call makes the instance visible; later calls replace it; the
    /// instance keeps its place in registration order).
    func publish(_ record: InstanceRecord) async throws
    /// Renews the registration until the task is cancelled; throws once it is lost (expired,
    /// ended, or the store unreachable until it ran out).
    func keepAlive() async throws -> Never
    /// Ends the registration now: the record disappears.
    func end() async throws
}
