import Etcd
import ServiceMonitor

/// The etcd client as the core's store.
struct EtcdMonitorStore: MonitorStore {
    let client: EtcdClient

    func grantLease(ttl: Duration) async throws -> Int64 {
        // etcd leases are whole seconds; round up so the lease never ends before --ttl.
        let seconds = max(1, (ttl.components.seconds) + (ttl.components.attoseconds > 0 ? 1 : 0))
        return try await client.grantLease(ttl: seconds).id
    }

    func keepAlive(lease: Int64) async throws -> Never {
        try await client.keepAlive(lease)
    }

    func revokeLease(_ lease: Int64) async throws {
        _ = try await client.revokeLease(lease)
    }

    func put(_ key: String, value: [UInt8], lease: Int64) async throws {
        _ = try await client.put(key, value: value, lease: lease)
    }
}
