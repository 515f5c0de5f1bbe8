@testable import Etcd
import TestSupport
import Testing

/// Some things etcd and grpc-swift say only in a status message, which the client reads in one
/// place (ErrorMapping.swift). Each test here fails when text a decision depends on changes.
/// etcd's own messages are pinned through the codes and behaviour they lead to: AuthTests
/// (authentication failed, user name is empty, invalid auth token, revision of auth store is
/// old, authentication is not enabled), LeaseTests (lease not found), KVTests (future
/// revision), WatchTests (compacted).
@Suite("Text the client reads from its dependencies, pinned")
struct DependencyTextTests {
    @Test func aRefusedConnectionIsKnownNeverToHaveCarriedTheRequest() async throws {
        let port = try EtcdFreePorts.take(1)[0]
        var configuration = EtcdClient.Configuration(endpoints: ["http://127.0.0.1:\(port)"])
        configuration.requestTimeout = .seconds(1)
        try await withEtcdClient(configuration) { client in
            let result = await expectEtcdError { try await client.put("/pinned", value: "1") }
            let error = try #require(result.error)
            // grpc-swift's "Channel is in a transient failure state…" (GRPCStreamNeverOpened):
            // the write may safely be sent to another member.
            #expect(error.requestCertainlyNotApplied, "\(error)")
        }
    }
}
