import Etcd
import TestSupport
import Testing

/// Writes a key exactly once even when the write's outcome is unknown (the member died while
/// the request was in flight): it checks before writing again, as a careful caller must.
func putOnce(_ client: EtcdClient, _ key: String, value: String) async throws {
    while true {
        let failure: EtcdError?
        do {
            try await client.put(key, value: value)
            failure = nil
        } catch {
            failure = error
        }
        guard let failure else { return }
        guard failure.code == .unavailable || failure.code == .deadlineExceeded else { throw failure }
        if try await client.get(key)?.valueString == value { return }
    }
}

@Suite("Fail-over across a real three-member cluster")
struct FailoverTests {
    @Test func unaryRequestsMoveToAnotherMember() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            try await withClient(cluster) { client in
                try await client.put("/failover/a", value: "1")
                let used = try #require(cluster.memberIndex(clientURL: client.currentEndpoint))
                await cluster.kill(member: used)

                // Reads move on transparently; a write whose outcome is unknown (the dead
                // member may have been the leader) is reported, so write it carefully.
                #expect(try await client.get("/failover/a")?.valueString == "1")
                try await putOnce(client, "/failover/b", value: "2")
                #expect(client.currentEndpoint != cluster.members[used].clientURL)

                // The member comes back and the cluster keeps working through it too.
                try await cluster.restart(member: used)
                let seenThroughRestarted = try await withClient(cluster, members: [used]) { direct in
                    try await direct.get("/failover/b")?.valueString
                }
                #expect(seenThroughRestarted == "2")
            }
        }
    }

    @Test func keepAliveAndWatchSurviveTheKillOfTheMemberInUse() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            try await withClient(cluster) { client in
                let lease = try await client.grantLease(ttl: 3)
                let start = try await client.put("/survive/owned", value: "alive", lease: lease.id).header.revision
                let renewals = Recorder<UInt64>()
                let killed = try #require(cluster.memberIndex(clientURL: client.currentEndpoint))

                let events = try await withTimeout(.seconds(30), "fail-over") {
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            try await client.keepAlive(lease.id) { renewals.record($0.header.memberID) }
                        }
                        defer { group.cancelAll() }
                        return try await client.watch(.prefix("/survive/events/"), options: WatchOptions(startRevision: start + 1)) { batches in
                            var iterator = batches.makeAsyncIterator()
                            try await client.put("/survive/events/before", value: "1")
                            var events = try #require(try await iterator.next()).events

                            await cluster.kill(member: killed)
                            let renewalsAtKill = renewals.all.count

                            // Longer than the lease's TTL: it only survives if renewals go on.
                            try await Task.sleep(for: .seconds(4))
                            try await client.put("/survive/events/after", value: "2")
                            while events.count < 2, let batch = try await iterator.next() { events += batch.events }

                            #expect(renewals.all.count >= renewalsAtKill + 2, "renewals must go on after the kill")
                            return events
                        }
                    }
                }
                #expect(events.map(\.kv.keyString) == ["/survive/events/before", "/survive/events/after"])
                #expect(client.currentEndpoint != cluster.members[killed].clientURL)
                #expect(try await client.leaseTimeToLive(lease.id).ttl > 0)
                #expect(try await client.get("/survive/owned")?.valueString == "alive")
            }
        }
    }

    @Test func keepAliveMovesOnFromAMemberThatStopsAnswering() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            try await withClient(cluster) { client in
                // Renewed every 2 s, so a renewal unanswered for 2 s reveals the silence and the
                // fail-over has at least 2 s before the lease runs out: with a 3 s TTL it had 1 s,
                // which a fully loaded test run (three members, every suite at once) once missed.
                let lease = try await client.grantLease(ttl: 6)
                let frozen = try #require(cluster.memberIndex(clientURL: client.currentEndpoint))
                defer { cluster.resume(member: frozen) }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await client.keepAlive(lease.id) }
                    defer { group.cancelAll() }
                    // The TCP connection stays up; only missing answers reveal the problem.
                    cluster.pause(member: frozen)
                    // Longer than the lease's TTL: it only survives if renewals moved on.
                    try await Task.sleep(for: .seconds(8))
                    #expect(client.currentEndpoint != cluster.members[frozen].clientURL)
                    #expect(try await client.leaseTimeToLive(lease.id).ttl > 0)
                }
            }
        }
    }

    @Test func watchMovesOnFromAMemberThatStopsAnswering() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            try await withClient(cluster) { client in
                let start = try await client.put("/frozen/start", value: "0").header.revision
                let frozen = try #require(cluster.memberIndex(clientURL: client.currentEndpoint))
                defer { cluster.resume(member: frozen) }
                let events = try await withTimeout(.seconds(30), "watch off a frozen member") {
                    try await client.watch(.prefix("/frozen/k"), options: WatchOptions(startRevision: start + 1)) { batches in
                        var iterator = batches.makeAsyncIterator()
                        try await client.put("/frozen/k1", value: "before")
                        var events = try #require(try await iterator.next()).events
                        cluster.pause(member: frozen)
                        // Written through another member while the watch's member hangs.
                        try await withClient(cluster, members: cluster.members.indices.filter { $0 != frozen }) { other in
                            try await putOnce(other, "/frozen/k2", value: "after")
                        }
                        while events.count < 2, let batch = try await iterator.next() { events += batch.events }
                        return events
                    }
                }
                #expect(events.map(\.kv.valueString) == ["before", "after"])
                #expect(events.map(\.revision) == [start + 1, start + 2])
            }
        }
    }

    @Test func watchResumesAcrossAMemberKillWithoutLosingOrRepeatingEvents() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            try await withClient(cluster) { client in
                let start = try await client.put("/resume/start", value: "0").header.revision
                let total = 60
                let events = try await withTimeout(.seconds(30), "resumed watch") {
                    try await client.watch(.prefix("/resume/k"), options: WatchOptions(startRevision: start + 1)) { batches in
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            group.addTask {
                                for index in 0..<total {
                                    if index == total / 2 {
                                        // Kill whoever serves us mid-stream, with writes in flight.
                                        let used = try #require(cluster.memberIndex(clientURL: client.currentEndpoint))
                                        await cluster.kill(member: used)
                                    }
                                    try await putOnce(client, "/resume/k\(index)", value: "\(index)")
                                }
                            }
                            let events = try await collect(total, from: batches)
                            try await group.waitForAll()
                            return events
                        }
                    }
                }
                // Nothing else writes to this cluster, so the puts took consecutive revisions.
                #expect(events.map(\.revision) == Array((start + 1)...(start + Int64(total))))
                #expect(events.map(\.kv.valueString) == (0..<total).map(String.init))
            }
        }
    }

    @Test func requestFailsAsUnavailableWithinItsTimeoutWhenAllMembersAreDown() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            try await withClient(cluster, configure: { $0.requestTimeout = .seconds(2) }) { client in
                try await client.put("/down/a", value: "1")
                for index in cluster.members.indices { await cluster.kill(member: index) }

                let result = await expectEtcdError { _ = try await client.get("/down/a") }
                #expect(result.error?.code == .unavailable)
                #expect(result.elapsed < .seconds(3))
                #expect(result.error?.endpoint != nil)
            }
        }
    }

    @Test func serializableReadsWorkWithoutQuorumLinearizableOnesDoNot() async throws {
        try await EtcdCluster.with(members: 3) { cluster in
            try await withClient(cluster, members: [0], configure: { $0.requestTimeout = .seconds(2) }) { client in
                try await client.put("/quorum/a", value: "1")
                await cluster.kill(member: 1)
                await cluster.kill(member: 2)

                let serializable = try await client.get("/quorum/a", options: RangeOptions(serializable: true))
                #expect(serializable?.valueString == "1")
                let linearizable = await expectEtcdError { _ = try await client.get("/quorum/a") }
                #expect(linearizable.error?.code == .unavailable)
                #expect(linearizable.elapsed < .seconds(3))
            }
        }
    }

    @Test func memberThatAcceptsButNeverAnswersIsSkipped() async throws {
        let silent = try EtcdSilentListener()
        defer { silent.close() }
        try await EtcdCluster.with(members: 1) { cluster in
            var configuration = EtcdClient.Configuration(endpoints: [silent.url] + cluster.clientURLs)
            configuration.dialTimeout = .milliseconds(500)
            configuration.requestTimeout = .seconds(5)
            try await withEtcdClient(configuration, logger: testLogger) { client in
                // A write first: it must not be spent on the silent member (its outcome would
                // be unknown), so the client finds out that member does not answer beforehand.
                let start = ContinuousClock.now
                try await client.put("/silent/a", value: "1")
                #expect(ContinuousClock.now - start < .seconds(3))
                #expect(client.currentEndpoint == cluster.clientURLs[0])
                #expect(try await client.get("/silent/a")?.valueString == "1")
            }

            // Streams too: a keep-alive and a watch opened while the silent member is pinned.
            try await withEtcdClient(configuration, logger: testLogger) { client in
                let lease = try await withClient(cluster) { direct in try await direct.grantLease(ttl: 3) }
                let renewed = AsyncStream<Void>.makeStream()
                try await withTimeout(.seconds(10), "keep-alive past a silent member") {
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask { _ = try? await client.keepAlive(lease.id) { _ in renewed.continuation.yield() } }
                        defer { group.cancelAll() }
                        for await _ in renewed.stream { break }
                    }
                }
            }
            try await withEtcdClient(configuration, logger: testLogger) { client in
                let start = try await withClient(cluster) { direct in try await direct.put("/silent/w0", value: "0").header.revision }
                let events = try await withTimeout(.seconds(10), "watch past a silent member") {
                    try await client.watch(.prefix("/silent/w"), options: WatchOptions(startRevision: start)) { batches in
                        try await collect(1, from: batches)
                    }
                }
                #expect(events.first?.kv.valueString == "0")
            }
        }
    }

    @Test func requestFailsAsUnavailableWhenNothingListens() async throws {
        let port = try EtcdFreePorts.take(1)[0]
        var configuration = EtcdClient.Configuration(endpoints: ["http://127.0.0.1:\(port)"])
        configuration.requestTimeout = .seconds(1)
        try await withEtcdClient(configuration) { client in
            let result = await expectEtcdError { _ = try await client.range(.prefix("/")) }
            #expect(result.error?.code == .unavailable)
            // The reason, not gRPC's "transient failure state".
            #expect(result.error?.message.contains("cannot connect: Connection refused") == true, "\(String(describing: result.error))")
            #expect(result.elapsed < .seconds(2))
        }
    }
}
