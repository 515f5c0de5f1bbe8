/// A shared store service-monitor keeps its state in, in the product's terms: where instances
/// register and are discovered (``InstanceRegistry``), the startup semaphore of each label
/// (``StartupSemaphore``), and the whole picture for `status`.
///
/// Each backend is its own target (etcd: `ServiceMonitorEtcd`); ``InMemoryBackend`` lives beside
/// this protocol for fast tests. Every backend passes the backend conformance suite.
public protocol StoreBackend: Sendable {
    associatedtype Registry: InstanceRegistry
    associatedtype Semaphore: StartupSemaphore

    var registry: Registry { get }
    var semaphore: Semaphore { get }
    /// What logs and `STATUS=` call this store when it cannot be reached: `etcd`, `DynamoDB`.
    var name: String { get }

    /// Every label (or only `label`) with its instances and startup semaphore, read at once.
    func status(of label: Label?) async throws -> StatusReport

    /// Whether retrying cannot cure `error` (thrown by this backend): the store refused these
    /// credentials, this user's permissions or the TLS setup. `watch` ends with such an error
    /// instead of retrying it forever as if the store were unreachable.
    func isPermanent(_ error: any Error) -> Bool

    /// Whether the store refused a write because it is full (etcd's NOSPACE alarm): it still
    /// reads and keeps leases alive, but takes no new record or lease until an operator frees
    /// space. A running `watch` keeps checking and retries; a new one exits.
    func isOutOfSpace(_ error: any Error) -> Bool
}

extension StoreBackend {
    public func isPermanent(_ error: any Error) -> Bool { false }
    public func isOutOfSpace(_ error: any Error) -> Bool { false }
}
