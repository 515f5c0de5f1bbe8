import Etcd
import TestSupport
import Testing

@Suite("Watch against a real single-member etcd")
struct WatchTests {
    @Test func deliversPutsAndDeletesInRevisionOrder() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                let start = try await client.put("/watch-other", value: "start").header.revision
                let events = try await withTimeout(.seconds(15), "watch") {
                    try await client.watch(.prefix("/watch/"), options: WatchOptions(startRevision: start + 1, prevKV: true)) { batches in
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                for index in 0..<20 {
                                    try await client.put("/watch/k\(index % 5)", value: "v\(index)")
                                    try await client.put("/watch-other", value: "noise \(index)")
                                }
                                try await client.delete("/watch/k0")
                            }
                            let events = try await collect(21, from: batches)
                            try await group.waitForAll()
                            return events
                        }
                    }
                }
                #expect(events.count == 21)
                let revisions = events.map(\.revision)
                #expect(revisions == revisions.sorted())
                #expect(Set(revisions).count == revisions.count)
                #expect(events.prefix(20).map(\.kv.valueString) == (0..<20).map { "v\($0)" })
                #expect(events.prefix(20).allSatisfy { $0.kind == .put })
                // Keys k0...k4 get their second value at index 5...9: prevKV carries the first.
                #expect(events[5].prevKV?.valueString == "v0")
                #expect(events[0].prevKV == nil)
                let last = try #require(events.last)
                #expect(last.kind == .delete)
                #expect(last.kv.keyString == "/watch/k0")
                #expect(last.prevKV?.valueString == "v15")
            }
        }
    }

    @Test func watchFromNowSeesOnlyLaterChanges() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                try await client.put("/now/before", value: "old")
                let events = try await withTimeout(.seconds(10), "watch") {
                    try await client.watch(.key("/now/key")) { batches in
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                // The watch may still be setting up: keep writing until seen.
                                for index in 0..<100 {
                                    try await client.put("/now/key", value: "\(index)")
                                    try await Task.sleep(for: .milliseconds(50))
                                }
                            }
                            defer { group.cancelAll() }
                            return try await collect(2, from: batches)
                        }
                    }
                }
                #expect(events.allSatisfy { $0.kv.keyString == "/now/key" })
                #expect(events[1].revision > events[0].revision)
            }
        }
    }

    @Test func compactedStartRevisionIsADistinctError() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in
                let first = try await client.put("/compact/a", value: "1").header.revision
                for index in 0..<5 { try await client.put("/compact/a", value: "\(index)") }
                let latest = try await client.put("/compact/a", value: "last").header.revision
                try await cluster.etcdctl(["compact", "\(latest)"])

                let result = await expectEtcdError {
                    try await withTimeout(.seconds(10), "compacted watch") {
                        try await client.watch(.prefix("/compact/"), options: WatchOptions(startRevision: first)) { batches in
                            for try await _ in batches {}
                        }
                    }
                }
                #expect(result.error?.code == .compacted)
                #expect(result.error?.compactRevision == latest)

                let read = await expectEtcdError {
                    _ = try await client.range(.prefix("/compact/"), options: RangeOptions(revision: first))
                }
                #expect(read.error?.code == .compacted)
            }
        }
    }
}
