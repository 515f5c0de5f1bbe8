import Etcd
import TestSupport
import Testing

@Suite("TLS with client certificates against a real etcd (--client-cert-auth)")
struct TLSTests {
    /// Runs `body` against a member that serves https and requires client certificates.
    private func withSecureMember(_ body: (EtcdCluster, EtcdTestCertificates) async throws -> Void) async throws {
        let certificates = try await EtcdTestCertificates.make()
        defer { certificates.remove() }
        try await EtcdCluster.with(members: 1, tls: .init(certificates: certificates)) { cluster in
            try await body(cluster, certificates)
        }
    }

    @Test func rightCertificatesWork() async throws {
        try await self.withSecureMember { cluster, certificates in
            #expect(cluster.clientURLs[0].hasPrefix("https://"))
            try await withClient(cluster, configure: {
                $0.tls = .init(caFile: certificates.caFile, certificateFile: certificates.clientCertificateFile, keyFile: certificates.clientKeyFile)
            }) { client in
                try await client.put("/tls/key", value: "secret")
                #expect(try await client.get("/tls/key")?.valueString == "secret")
            }
        }
    }

    @Test func untrustedServerCertificateFailsQuicklyWithATypedError() async throws {
        try await self.withSecureMember { cluster, certificates in
            try await withClient(cluster, configure: {
                $0.tls = .init(caFile: certificates.otherCAFile, certificateFile: certificates.clientCertificateFile, keyFile: certificates.clientKeyFile)
                $0.requestTimeout = LoadedRun.unreachedTimeout
            }) { client in
                let result = await expectEtcdError { _ = try await client.get("/tls/key") }
                #expect(result.error?.code == .tlsFailure)
                #expect(result.error?.endpoint == cluster.clientURLs[0])
                // Retrying cannot fix a certificate problem: no waiting for the timeout.
                #expect(result.elapsed < LoadedRun.lateness)
            }
        }
    }

    @Test func clientCertificateFromAnotherCAIsRejected() async throws {
        try await self.withSecureMember { cluster, certificates in
            try await withClient(cluster, configure: {
                $0.tls = .init(caFile: certificates.caFile, certificateFile: certificates.otherClientCertificateFile, keyFile: certificates.otherClientKeyFile)
                $0.requestTimeout = LoadedRun.unreachedTimeout
            }) { client in
                let result = await expectEtcdError { _ = try await client.get("/tls/key") }
                #expect(result.error?.code == .tlsFailure)
                #expect(result.elapsed < LoadedRun.lateness)
            }
        }
    }

    @Test(.tags(.fast)) func unreadableCertificateFileIsAConfigurationError() throws {
        var configuration = EtcdClient.Configuration(endpoints: ["https://127.0.0.1:2379"])
        configuration.tls = .init(caFile: "/nonexistent/ca.pem")
        #expect {
            _ = try EtcdClient(configuration: configuration)
        } throws: { error in
            (error as? EtcdError)?.code == .invalidConfiguration
        }
    }

    /// Typed, from swift-nio-ssl's error: a member that closes the connection mid-handshake (a
    /// plain listener, or a member going down) is not a refused certificate.
    @Test func httpsToAPlainMemberIsAHandshakeCutShort() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            let url = "https://" + cluster.clientURLs[0].dropFirst("http://".count)
            let configuration = EtcdClient.Configuration(endpoints: [url], dialTimeout: .seconds(2), requestTimeout: .seconds(5))
            try await withEtcdClient(configuration) { client in
                let result = await expectEtcdError { _ = try await client.get("/tls/key") }
                #expect(result.error?.code == .tlsFailure, "\(String(describing: result.error))")
                #expect(result.error?.connectionClosedDuringHandshake == true, "\(String(describing: result.error))")
            }
        }
    }
}
