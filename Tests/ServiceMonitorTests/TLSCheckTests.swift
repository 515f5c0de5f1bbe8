import ServiceMonitor
import Testing
import TestSupport

/// HTTPS checks against a real TLS server whose certificate is signed by a throwaway test CA.
@Suite("HTTPS checks", .tags(.fast), .shares(.processDescriptors))
struct TLSCheckTests {
    private func authority() async throws -> TestCertificateAuthority {
        try await TestCertificateAuthority.shared()
    }

    @Test("with the test CA configured, the check is up")
    func trustedCAIsUp() async throws {
        let authority = try await self.authority()
        try await withLoopbackHTTPServer(responding: .init(status: 200), tls: authority.serverContext()) { server in
            let configuration = HealthChecker.Configuration(certificateVerification: .trustRootsFile(path: authority.caFile))
            try await withHealthChecker(target: CheckTarget(parsing: "\(server.baseURL)/health"), configuration: configuration) { checker in
                let result = await checker.check()
                #expect(result.isUp, "\(result)")
                #expect(result.httpStatus == 200)
            }
            #expect(server.receivedRequests == ["/health"])
        }
    }

    @Test("the host name is verified too: localhost is in the certificate")
    func hostNameInCertificateIsUp() async throws {
        let authority = try await self.authority()
        try await withLoopbackHTTPServer(responding: .init(status: 204), tls: authority.serverContext()) { server in
            let configuration = HealthChecker.Configuration(certificateVerification: .trustRootsFile(path: authority.caFile))
            try await withHealthChecker(target: CheckTarget(parsing: "https://localhost:\(server.port)/"), configuration: configuration) { checker in
                let result = await checker.check()
                #expect(result.isUp, "\(result)")
                #expect(result.httpStatus == 204)
            }
        }
    }

    @Test("without the test CA, the check is a TLS failure and no request is sent")
    func untrustedCAIsTLSFailure() async throws {
        let authority = try await self.authority()
        try await withLoopbackHTTPServer(responding: .init(status: 200), tls: authority.serverContext()) { server in
            let configuration = HealthChecker.Configuration(timeout: LoadedRun.unreachedTimeout)
            try await withHealthChecker(target: CheckTarget(parsing: server.baseURL), configuration: configuration) { checker in
                let result = await checker.check()
                #expect(!result.isUp)
                #expect(result.failure?.kind == .tls, "\(result)")
                #expect(result.detail == "TLS: certificate verify failed", "\(result.detail)")
                #expect(result.httpStatus == nil)
                #expect(result.latency < LoadedRun.lateness, "a TLS failure must not be retried until the timeout")
            }
            #expect(server.receivedRequests.isEmpty)
        }
    }

    @Test("a trusted certificate for another host name is a TLS failure that says so, unlike an untrusted one")
    func hostNameMismatchIsTLSFailure() async throws {
        let authority = try await self.authority()
        try await withLoopbackHTTPServer(responding: .init(status: 200), tls: authority.elsewhereServerContext()) { server in
            let configuration = HealthChecker.Configuration(certificateVerification: .trustRootsFile(path: authority.caFile))
            try await withHealthChecker(target: CheckTarget(parsing: "https://localhost:\(server.port)/"), configuration: configuration) { checker in
                let result = await checker.check()
                #expect(result.failure?.kind == .tls, "\(result)")
                #expect(result.detail == "TLS: certificate does not match the host name", "\(result.detail)")
            }
            #expect(server.receivedRequests.isEmpty)
        }
    }

    @Test("skipping verification accepts the untrusted certificate")
    func skippedVerificationIsUp() async throws {
        let authority = try await self.authority()
        try await withLoopbackHTTPServer(responding: .init(status: 200), tls: authority.serverContext()) { server in
            let configuration = HealthChecker.Configuration(certificateVerification: .skip)
            try await withHealthChecker(target: CheckTarget(parsing: server.baseURL), configuration: configuration) { checker in
                #expect(await checker.check().isUp)
            }
        }
    }

    @Test("https to a plain HTTP server is a TLS failure")
    func httpsToPlainServerIsTLSFailure() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 200)) { server in
            try await withHealthChecker(target: CheckTarget(parsing: "https://127.0.0.1:\(server.port)/")) { checker in
                let result = await checker.check()
                #expect(!result.isUp)
                #expect(result.failure?.kind == .tls, "\(result)")
                #expect(result.detail.hasPrefix("TLS: "))
            }
        }
    }

    @Test("an unreadable CA file is a configuration error naming the path")
    func unreadableCAFile() throws {
        let error = try #require(throws: BadInput.self) {
            _ = try HealthChecker(
                target: CheckTarget(parsing: "https://127.0.0.1/"),
                configuration: .init(certificateVerification: .trustRootsFile(path: "/nonexistent/ca.pem"))
            )
        }
        #expect(error.code == .unreadableTrustRoots)
        #expect(error.exitStatus == .configuration)
        #expect(error.message.contains(#""/nonexistent/ca.pem""#))
    }
}
