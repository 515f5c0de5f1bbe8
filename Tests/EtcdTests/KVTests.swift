import Etcd
import TestSupport
import Testing

@Suite("KV against a real single-member etcd")
struct KVTests {
    @Test func putGetAndDelete() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                #expect(try await client.get("/kv/missing") == nil)

                let first = try await client.put("/kv/a", value: "one")
                #expect(first.prevKV == nil)
                let second = try await client.put("/kv/a", value: "two", prevKV: true)
                #expect(second.prevKV?.valueString == "one")
                #expect(second.header.revision == first.header.revision + 1)

                let kv = try #require(try await client.get("/kv/a"))
                #expect(kv.keyString == "/kv/a")
                #expect(kv.valueString == "two")
                #expect(kv.version == 2)
                #expect(kv.createRevision == first.header.revision)
                #expect(kv.modRevision == second.header.revision)
                #expect(kv.lease == 0)

                // Bytes that are not UTF-8 survive the round trip.
                let binary: [UInt8] = [0, 0xFF, 0xFE, 10]
                try await client.put("/kv/binary", value: binary)
                #expect(try await client.get("/kv/binary")?.value == binary)

                let deleted = try await client.delete("/kv/a", prevKV: true)
                #expect(deleted.deleted == 1)
                #expect(deleted.prevKVs.map(\.valueString) == ["two"])
                #expect(try await client.get("/kv/a") == nil)
                #expect(try await client.delete("/kv/a").deleted == 0)
            }
        }
    }

    /// gRPC's default 4 MiB limit on one answer does not apply: five values of 1 MiB in one answer.
    @Test func anAnswerOverFourMiBIsRead() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                let value = [UInt8](repeating: 0x61, count: 1 << 20)
                for index in 0..<5 { try await client.put("/large/\(index)", value: value) }
                let listing = try await client.range(.prefix("/large/"))
                #expect(listing.kvs.count == 5 && listing.kvs.allSatisfy { $0.value == value })
            }
        }
    }

    @Test func rangeByPrefixWithOptions() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                for index in 0..<5 {
                    try await client.put("/range/item\(index)", value: "v\(index)")
                }
                try await client.put("/range0", value: "outside the prefix")
                let revisionBeforeChange = try await client.put("/range-other", value: "x").header.revision
                try await client.put("/range/item0", value: "changed")

                let all = try await client.range(.prefix("/range/"))
                #expect(all.kvs.map(\.keyString) == (0..<5).map { "/range/item\($0)" })
                #expect(all.count == 5)
                #expect(all.more == false)

                let limited = try await client.range(.prefix("/range/"), options: RangeOptions(limit: 2))
                #expect(limited.kvs.map(\.keyString) == ["/range/item0", "/range/item1"])
                #expect(limited.count == 5)
                #expect(limited.more)

                let keysOnly = try await client.range(.prefix("/range/"), options: RangeOptions(keysOnly: true))
                #expect(keysOnly.kvs.count == 5)
                #expect(keysOnly.kvs.allSatisfy { $0.value.isEmpty })

                let countOnly = try await client.range(.prefix("/range/"), options: RangeOptions(countOnly: true))
                #expect(countOnly.kvs.isEmpty)
                #expect(countOnly.count == 5)

                let old = try await client.range(.prefix("/range/item0"), options: RangeOptions(revision: revisionBeforeChange))
                #expect(old.kvs.map(\.valueString) == ["v0"])

                let serializable = try await client.range(.prefix("/range/"), options: RangeOptions(serializable: true))
                #expect(serializable.count == 5)

                let descending = try await client.range(
                    .prefix("/range/"), options: RangeOptions(sort: (target: .key, order: .descending)))
                #expect(descending.kvs.first?.keyString == "/range/item4")

                let interval = try await client.range(.interval(from: "/range/item1", to: "/range/item3"))
                #expect(interval.kvs.map(\.keyString) == ["/range/item1", "/range/item2"])

                let future = await expectEtcdError { _ = try await client.range(.prefix("/"), options: RangeOptions(revision: 1_000_000)) }
                #expect(future.error?.code == .futureRevision)
            }
        }
    }

    @Test func deleteByPrefix() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                for index in 0..<3 { try await client.put("/del/\(index)", value: "\(index)") }
                try await client.put("/delete-me-not", value: "x")
                let deleted = try await client.delete(.prefix("/del/"), prevKV: true)
                #expect(deleted.deleted == 3)
                #expect(Set(deleted.prevKVs.map(\.valueString)) == ["0", "1", "2"])
                #expect(try await client.range(.prefix("/del/")).count == 0)
                #expect(try await client.get("/delete-me-not") != nil)
            }
        }
    }

    @Test func txnComparesAndBranches() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                // Create-if-absent: version == 0 holds only while the key does not exist.
                let create = try await client.txn(
                    if: [.version("/txn/lock", .equal, 0)],
                    then: [.put("/txn/lock", "owner-a")],
                    else: [.get("/txn/lock")]
                )
                #expect(create.succeeded)
                guard case .put = create.responses.first else {
                    Issue.record("expected a put response, got \(create.responses)")
                    return
                }

                let second = try await client.txn(
                    if: [.version("/txn/lock", .equal, 0)],
                    then: [.put("/txn/lock", "owner-b")],
                    else: [.get("/txn/lock")]
                )
                #expect(second.succeeded == false)
                guard case .get(let current) = second.responses.first else {
                    Issue.record("expected a range response, got \(second.responses)")
                    return
                }
                #expect(current.kvs.first?.valueString == "owner-a")
                let kv = try #require(current.kvs.first)

                // Value, mod/create revision and lease compares, true and false.
                let holds = try await client.txn(
                    if: [
                        .value("/txn/lock", .equal, "owner-a"),
                        .value("/txn/lock", .notEqual, "owner-b"),
                        .modRevision("/txn/lock", .equal, kv.modRevision),
                        .createRevision("/txn/lock", .equal, kv.createRevision),
                        .version("/txn/lock", .greater, 0),
                        .modRevision("/txn/lock", .less, kv.modRevision + 1),
                        .lease("/txn/lock", .equal, 0),
                    ],
                    then: [.put("/txn/lock", "owner-a2", prevKV: true), .delete("/txn/other")],
                    else: []
                )
                #expect(holds.succeeded)
                #expect(holds.responses.count == 2)
                if case .put(let put) = holds.responses.first {
                    #expect(put.prevKV?.valueString == "owner-a")
                }

                for failing: Compare in [
                    .value("/txn/lock", .equal, "owner-a"),
                    .modRevision("/txn/lock", .equal, kv.modRevision),
                    .createRevision("/txn/lock", .greater, kv.createRevision),
                    .lease("/txn/lock", .notEqual, 0),
                    .version("/txn/lock", .less, 2),
                ] {
                    let result = try await client.txn(if: [failing], then: [.delete("/txn/lock")], else: [.put("/txn/failed", "yes")])
                    #expect(result.succeeded == false, "\(failing) should not hold")
                }
                #expect(try await client.get("/txn/lock")?.valueString == "owner-a2")
                #expect(try await client.get("/txn/failed")?.valueString == "yes")

                // A lease compare that holds once the key is attached to the lease.
                let lease = try await client.grantLease(ttl: 30)
                try await client.put("/txn/leased", value: "x", lease: lease.id)
                let leased = try await client.txn(if: [.lease("/txn/leased", .equal, lease.id)], then: [.delete(.prefix("/txn/"))])
                #expect(leased.succeeded)
                #expect(try await client.range(.prefix("/txn/")).count == 0)

                let invalid = await expectEtcdError {
                    _ = try await client.txn(if: [], then: [.put("/txn/dup", "1"), .put("/txn/dup", "2")])
                }
                #expect(invalid.error?.code == .invalidArgument)

                // A range compare holds for every key in the range, and for an empty range.
                let noneUnder = { (prefix: String) in [Compare.version(.prefix(prefix), .equal, 0)] }
                #expect(try await client.txn(if: noneUnder("/ranged/"), then: [.put("/ranged/a", "1")]).succeeded)
                #expect(try await client.txn(if: noneUnder("/ranged/"), then: [.put("/ranged/b", "1")]).succeeded == false)
                // A key just outside the range does not count.
                #expect(try await client.txn(if: noneUnder("/ranged/a/"), then: [.put("/ranged/a/x", "1")]).succeeded)
                // Every key in the range must satisfy it: both are at version 1, then one is not.
                #expect(try await client.txn(if: [.version(.prefix("/ranged/"), .equal, 1)], then: []).succeeded)
                try await client.put("/ranged/a", value: "2")
                #expect(try await client.txn(if: [.version(.prefix("/ranged/"), .equal, 1)], then: []).succeeded == false)
                #expect(try await client.get("/ranged/b") == nil)
            }
        }
    }

    @Test func emptyKeyIsInvalidArgument() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                let result = await expectEtcdError { try await client.put("", value: "x") }
                #expect(result.error?.code == .invalidArgument)
            }
        }
    }
}
