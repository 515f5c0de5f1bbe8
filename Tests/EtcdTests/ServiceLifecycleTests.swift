import Etcd
import Logging
import ServiceLifecycle
import TestSupport
import Testing

@Suite("Running the client")
struct ServiceLifecycleTests {
    /// A service that writes through the client, then asks the group to shut down.
    private struct Writer: Service {
        let client: EtcdClient
        let written: AsyncStream<Int64>.Continuation

        func run() async throws {
            let put = try await self.client.put("/lifecycle/written", value: "yes")
            self.written.yield(put.header.revision)
            self.written.finish()
            // Stay up like a real service until the group shuts down.
            try await gracefulShutdown()
        }
    }

    @Test func clientRunsAsAServiceInAServiceGroup() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let client = try EtcdClient(configuration: .init(endpoints: cluster.clientURLs))
            let (written, continuation) = AsyncStream<Int64>.makeStream()
            let group = ServiceGroup(
                // The client first: the group shuts services down in reverse order, so it
                // outlives the writer.
                services: [client, Writer(client: client, written: continuation)],
                logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            try await withTimeout(.seconds(15), "service group") {
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await group.run() }
                    for await _ in written { break }
                    await group.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
            }
            // run() returned after shutdown; the write happened.
            let check = try await withClient(cluster) { other in try await other.get("/lifecycle/written")?.valueString }
            #expect(check == "yes")
        }
    }

    @Test func oneShotClientAnswersQuickly() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withClient(cluster) { client in _ = try await client.put("/oneshot/a", value: "1") }
            // What a CLI command does: create, one linearizable range read, shut down.
            let start = ContinuousClock.now
            let count = try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                try await client.range(.prefix("/oneshot/")).count
            }
            let elapsed = ContinuousClock.now - start
            #expect(count == 1)
            #expect(elapsed < .seconds(2), "one-shot range took \(elapsed)")
        }
    }
}
