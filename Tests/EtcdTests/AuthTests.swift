import Etcd
import TestSupport
import Testing

@Suite("Username/password authentication against a real etcd")
struct AuthTests {
    /// A member with auth enabled: `root`, and `alice` who may read and write `/app/` only.
    private func withAuthMember(_ body: (EtcdCluster) async throws -> Void) async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await cluster.etcdctl(["user", "add", "root:root-password"])
            try await cluster.etcdctl(["user", "add", "alice:alice-password"])
            try await cluster.etcdctl(["role", "add", "app"])
            try await cluster.etcdctl(["role", "grant-permission", "app", "--prefix=true", "readwrite", "/app/"])
            try await cluster.etcdctl(["user", "grant-role", "alice", "app"])
            try await cluster.etcdctl(["auth", "enable"])
            cluster.etcdctlUser = "root:root-password"
            try await body(cluster)
        }
    }

    @Test func rightCredentialsWork() async throws {
        try await self.withAuthMember { cluster in
            try await withClient(cluster, configure: { $0.credentials = .init(user: "alice", password: "alice-password") }) { client in
                try await client.put("/app/config", value: "v1")
                #expect(try await client.get("/app/config")?.valueString == "v1")
                let watched = try await client.watch(.prefix("/app/"), options: WatchOptions(startRevision: 1)) { batches in
                    var iterator = batches.makeAsyncIterator()
                    return try await iterator.next()?.events.first?.kv.keyString
                }
                #expect(watched == "/app/config")
            }
        }
    }

    @Test func wrongPasswordIsAuthenticationFailed() async throws {
        try await self.withAuthMember { cluster in
            try await withClient(cluster, configure: {
                $0.credentials = .init(user: "alice", password: "wrong")
                $0.requestTimeout = LoadedRun.unreachedTimeout
            }) { client in
                let result = await expectEtcdError { _ = try await client.get("/app/config") }
                #expect(result.error?.code == .authenticationFailed)
                // A wrong password is not retried until the timeout.
                #expect(result.elapsed < LoadedRun.lateness)
            }
        }
    }

    @Test func missingCredentialsArePermissionDenied() async throws {
        try await self.withAuthMember { cluster in
            try await withClient(cluster) { client in
                let result = await expectEtcdError { try await client.put("/app/config", value: "anonymous") }
                #expect(result.error?.code == .permissionDenied || result.error?.code == .authenticationFailed)
            }
        }
    }

    @Test func userLimitedToAPrefixIsDeniedOutsideIt() async throws {
        try await self.withAuthMember { cluster in
            try await withClient(cluster, configure: { $0.credentials = .init(user: "alice", password: "alice-password") }) { client in
                try await client.put("/app/allowed", value: "yes")
                let write = await expectEtcdError { try await client.put("/elsewhere", value: "no") }
                #expect(write.error?.code == .permissionDenied)
                let read = await expectEtcdError { _ = try await client.get("/elsewhere") }
                #expect(read.error?.code == .permissionDenied)
                let watch = await expectEtcdError {
                    try await withTimeout(.seconds(10), "denied watch") {
                        try await client.watch(.prefix("/elsewhere")) { batches in
                            for try await _ in batches {}
                        }
                    }
                }
                #expect(watch.error?.code == .permissionDenied)
            }
        }
    }

    @Test func rejectedTokenIsRefreshed() async throws {
        try await self.withAuthMember { cluster in
            try await withClient(cluster, configure: { $0.credentials = .init(user: "alice", password: "alice-password") }) { client in
                try await client.put("/app/before", value: "1")
                // A restarted member forgets simple tokens: the next request is rejected with
                // "invalid auth token" and must re-authenticate transparently.
                await cluster.kill(member: 0)
                try await cluster.restart(member: 0)
                try await client.put("/app/after", value: "2")
                #expect(try await client.get("/app/after")?.valueString == "2")
            }
        }
    }

    // MARK: etcd's status text the client reads (ErrorMapping.swift): each test fails if it changes

    @Test func anonymousClientIsToldNoUserWasGiven() async throws {
        try await self.withAuthMember { cluster in
            try await withClient(cluster) { client in
                let result = await expectEtcdError { _ = try await client.get("/app/config") }
                // "user name is empty" is recognised, and said in the operator's terms.
                #expect(result.error?.code == .authenticationFailed, "\(String(describing: result.error))")
                #expect(result.error?.message.hasPrefix("etcd has authentication enabled and no user was given") == true, "\(String(describing: result.error))")
            }
        }
    }

    @Test func tokenMadeStaleByAnAuthChangeIsRefreshed() async throws {
        try await self.withAuthMember { cluster in
            try await withClient(cluster, configure: { $0.credentials = .init(user: "alice", password: "alice-password") }) { client in
                try await client.put("/app/before", value: "1")
                // Any change to users or roles moves the auth revision: alice's token is now
                // "revision of auth store is old" and must be renewed transparently.
                try await cluster.etcdctl(["user", "add", "bob:bob-password"])
                try await client.put("/app/after", value: "2")
                #expect(try await client.get("/app/after")?.valueString == "2")
            }
        }
    }

    @Test func credentialsForAMemberWithoutAuthAreNotNeeded() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            // "authentication is not enabled" means: go on without a token.
            try await withClient(cluster, configure: { $0.credentials = .init(user: "alice", password: "alice-password") }) { client in
                try await client.put("/app/config", value: "v1")
                #expect(try await client.get("/app/config")?.valueString == "v1")
            }
        }
    }
}
