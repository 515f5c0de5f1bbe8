import Etcd
import TestSupport
import Testing

@Suite("Leases against a real single-member etcd")
struct LeaseTests {
    @Test func grantTimeToLiveAndRevoke() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                let lease = try await client.grantLease(ttl: 60)
                #expect(lease.id != 0)
                #expect(lease.ttl == 60)
                try await client.put("/lease/a", value: "1", lease: lease.id)
                try await client.put("/lease/b", value: "2", lease: lease.id)
                #expect(try await client.get("/lease/a")?.lease == lease.id)

                let alive = try await client.leaseTimeToLive(lease.id, keys: true)
                #expect(alive.grantedTTL == 60)
                #expect(alive.ttl > 55 && alive.ttl <= 60)
                #expect(Set(alive.keys.map { String(decoding: $0, as: UTF8.self) }) == ["/lease/a", "/lease/b"])

                let chosen = try await client.grantLease(ttl: 30, id: 4242)
                #expect(chosen.id == 4242)

                // One renewal starts the TTL again (etcd reports whole seconds).
                try await Task.sleep(for: .seconds(3))
                #expect(try await client.leaseTimeToLive(chosen.id).ttl <= 27)
                let renewal = try await client.renewLease(chosen.id)
                #expect(renewal.id == chosen.id)
                #expect(renewal.ttl == 30)
                #expect(try await client.leaseTimeToLive(chosen.id).ttl >= 29)

                try await client.revokeLease(lease.id)
                #expect(try await client.range(.prefix("/lease/")).count == 0)
                #expect(try await client.leaseTimeToLive(lease.id).ttl == -1)

                let again = await expectEtcdError { try await client.revokeLease(lease.id) }
                #expect(again.error?.code == .leaseNotFound)
                let renewed = await expectEtcdError { _ = try await client.renewLease(lease.id) }
                #expect(renewed.error?.code == .leaseNotFound)
                let attach = await expectEtcdError { try await client.put("/lease/c", value: "3", lease: lease.id) }
                #expect(attach.error?.code == .leaseNotFound)
            }
        }
    }

    @Test func expiryDeletesAttachedKeys() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                let lease = try await client.grantLease(ttl: 2)
                let put = try await client.put("/expiry/key", value: "v", lease: lease.id)
                // Wait for the delete through a watch instead of sleeping.
                let deleted = try await withTimeout(.seconds(8), "lease expiry") {
                    try await client.watch(.key("/expiry/key"), options: WatchOptions(startRevision: put.header.revision + 1)) { batches in
                        try await collect(1, from: batches)
                    }
                }
                #expect(deleted.first?.kind == .delete)
                #expect(try await client.get("/expiry/key") == nil)
                #expect(try await client.leaseTimeToLive(lease.id).ttl == -1)
            }
        }
    }

    /// Only renewals keep a lease past its TTL. A 9 s TTL (renewed every 3 s) lets the lease
    /// outlive a stall of up to 6 s: a fully loaded `./dev test` starved a 2 s one.
    @Test func keepAliveHoldsALeaseForMoreThanTwiceItsTTL() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                let lease = try await client.grantLease(ttl: 9)
                try await client.put("/keepalive/key", value: "v", lease: lease.id)
                let renewals = Recorder<Int64>()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        try await client.keepAlive(lease.id) { response in
                            #expect(response.ttl == 9)
                            renewals.record(response.ttl)
                        }
                    }
                    try await Task.sleep(for: .seconds(20))
                    #expect(try await client.get("/keepalive/key")?.valueString == "v")
                    #expect(try await client.leaseTimeToLive(lease.id).ttl > 0)
                    group.cancelAll()
                    // keepAlive ends with CancellationError once cancelled.
                    await #expect(throws: CancellationError.self) { try await group.next() }
                }
                // Renewals every TTL/3 = 3 s: about 7 in 20 s; fewer than 4 could not have kept it.
                #expect(renewals.all.count >= 4)
            }
        }
    }

    @Test func keepAliveReportsLossWhenTheLeaseIsRevoked() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                let lease = try await client.grantLease(ttl: 3)
                let firstRenewal = AsyncStream<Void>.makeStream()
                let result = await expectEtcdError {
                    try await withTimeout(.seconds(10), "keep-alive loss") {
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                try await client.keepAlive(lease.id) { _ in firstRenewal.continuation.yield() }
                            }
                            for await _ in firstRenewal.stream { break }
                            try await client.revokeLease(lease.id)
                            try await group.next()
                        }
                    }
                }
                #expect(result.error?.code == .leaseNotFound)
            }
        }
    }

    @Test func withLeaseKeepAliveCancelsTheBodyWhenTheLeaseIsLost() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                let lease = try await client.grantLease(ttl: 3)
                let result = await expectEtcdError {
                    _ = try await withTimeout(.seconds(10), "withLeaseKeepAlive") {
                        try await client.withLeaseKeepAlive(lease.id) {
                            try await client.revokeLease(lease.id)
                            try await Task.sleep(for: .seconds(30))  // cancelled by the lease loss
                        }
                    }
                }
                #expect(result.error?.code == .leaseNotFound)
                #expect(result.elapsed < .seconds(5))
            }
        }
    }
}
