/// What `watch` needs from the shared store. The etcd client satisfies it; the core knows nothing
/// about gRPC or etcd's wire types, so another backend could be added.
public protocol MonitorStore: Sendable {
    /// Grants a lease that ends `ttl` after its last renewal; returns its id.
    func grantLease(ttl: Duration) async throws -> Int64
    /// Renews the lease until the task is cancelled; throws once the lease is lost (expired,
    /// revoked, or no member reachable before it ran out).
    func keepAlive(lease: Int64) async throws -> Never
    /// Ends the lease now, deleting every key bound to it.
    func revokeLease(_ lease: Int64) async throws
    /// Writes `value` at `key`, bound to `lease`.
    func put(_ key: String, value: [UInt8], lease: Int64) async throws
}
