import GRPCHealthProto
import ServiceMonitor
import Testing
import TestSupport

/// grpc:// and grpcs:// checks against real gRPC servers on loopback, serving the standard
/// `grpc.health.v1.Health` service with statuses the tests change.
@Suite("gRPC checks", .tags(.fast), .shares(.processDescriptors))
struct GRPCCheckTests {
    private func check(_ url: String, configuration: HealthChecker.Configuration = .defaults) async throws -> CheckResult {
        try await withHealthChecker(target: CheckTarget(parsing: url), configuration: configuration) { await $0.check() }
    }

    @Test("SERVING is up, with a positive latency and a short detail; the server as a whole is asked about")
    func servingIsUp() async throws {
        let health = TestHealthService()
        try await withLoopbackGRPCServer(services: [health]) { server in
            let result = try await self.check("grpc://127.0.0.1:\(server.port)")
            #expect(result.isUp, "\(result)")
            #expect(result.httpStatus == nil)
            #expect(result.latency > .zero)
            #expect(result.detail.wholeMatch(of: /gRPC SERVING in [0-9]+(\.[0-9])? m?s/) != nil, "\(result.detail)")
        }
        #expect(health.askedAbout == [""])
    }

    @Test("NOT_SERVING is down with the status; back to SERVING is up again")
    func notServingIsDown() async throws {
        let health = TestHealthService()
        try await withLoopbackGRPCServer(services: [health]) { server in
            try await withHealthChecker(target: CheckTarget(parsing: "grpc://127.0.0.1:\(server.port)/")) { checker in
                health.setStatus(.notServing)
                let down = await checker.check()
                #expect(!down.isUp)
                #expect(down.failure?.kind == .unexpectedStatus, "\(down)")
                #expect(down.detail.hasPrefix("gRPC NOT_SERVING in "), "\(down.detail)")

                health.setStatus(.unknown)
                let unknown = await checker.check()
                #expect(!unknown.isUp)
                #expect(unknown.detail.hasPrefix("gRPC UNKNOWN in "), "\(unknown.detail)")

                health.setStatus(.serving)
                let up = await checker.check()
                #expect(up.isUp, "\(up)")
            }
        }
    }

    @Test("the URL's path is the service asked about: each answers for itself")
    func perServiceStatus() async throws {
        let health = TestHealthService(["": .notServing, "db.Primary": .serving, "db.Replica": .serviceUnknown])
        try await withLoopbackGRPCServer(services: [health]) { server in
            let base = "grpc://127.0.0.1:\(server.port)"
            let primary = try await self.check("\(base)/db.Primary")
            #expect(primary.isUp, "\(primary)")

            let replica = try await self.check("\(base)/db.Replica")
            #expect(!replica.isUp)
            #expect(replica.failure?.kind == .unexpectedStatus)
            #expect(replica.detail.hasPrefix("gRPC SERVICE_UNKNOWN in "), "\(replica.detail)")

            // A service the server does not know: NOT_FOUND, as the health protocol answers it.
            let missing = try await self.check("\(base)/no.Such-service")
            #expect(!missing.isUp)
            #expect(missing.failure?.kind == .other)
            #expect(missing.detail == #"gRPC not found: unknown service "no.Such-service""#, "\(missing.detail)")
        }
        #expect(health.askedAbout == ["db.Primary", "db.Replica", "no.Such-service"])
    }

    @Test("a gRPC server without the health service is down: unimplemented")
    func noHealthServiceIsDown() async throws {
        try await withLoopbackGRPCServer(services: []) { server in
            let result = try await self.check("grpc://127.0.0.1:\(server.port)", configuration: .init(timeout: LoadedRun.unreachedTimeout))
            #expect(!result.isUp)
            #expect(result.failure?.kind == .other)
            #expect(result.detail.hasPrefix("gRPC unimplemented: "), "\(result.detail)")
            #expect(result.latency < LoadedRun.lateness)
        }
    }

    @Test("a closed port is refused, quickly")
    func closedPortIsRefused() async throws {
        let port = try await closedLoopbackPort()
        let result = try await self.check("grpc://127.0.0.1:\(port)", configuration: .init(timeout: LoadedRun.unreachedTimeout))
        #expect(!result.isUp)
        #expect(result.failure?.kind == .refused, "\(result)")
        #expect(result.detail == "connection refused")
        #expect(result.latency < LoadedRun.lateness, "a refusal must not wait for the timeout")
    }

    @Test("a server that accepts and never answers is down at the timeout, not later")
    func silentServerTimesOut() async throws {
        try await withSilentServer { server in
            let configuration = HealthChecker.Configuration(timeout: .milliseconds(300))
            let clock = ContinuousClock()
            let started = clock.now
            let result = try await self.check("grpc://127.0.0.1:\(server.port)", configuration: configuration)
            let elapsed = clock.now - started
            #expect(!result.isUp)
            #expect(result.failure?.kind == .timeout, "\(result)")
            #expect(result.detail == "timed out after 300 ms")
            #expect(elapsed >= .milliseconds(250))
            #expect(elapsed < .milliseconds(300) + LoadedRun.lateness, "took \(elapsed)")
        }
    }

    @Test("a name that does not resolve is a DNS failure")
    func unresolvableHostIsDNS() async throws {
        // `.invalid` is reserved (RFC 2606) and never resolves.
        let result = try await self.check("grpc://no-such-host.invalid:50051", configuration: .init(timeout: .seconds(5)))
        #expect(!result.isUp)
        #expect(result.failure?.kind == .dns, "\(result)")
        #expect(result.detail == #"DNS: cannot resolve "no-such-host.invalid""#)
    }

    @Test("one checker serves many checks and sees a restarted server fresh")
    func reusedAcrossRestart() async throws {
        let port = try await closedLoopbackPort()
        try await withHealthChecker(target: CheckTarget(parsing: "grpc://127.0.0.1:\(port)")) { checker in
            let before = await checker.check()
            #expect(before.failure?.kind == .refused, "\(before)")

            let first = TestHealthService()
            try await withLoopbackGRPCServer(services: [first], port: port) { _ in
                for _ in 0..<3 {
                    let result = await checker.check()
                    #expect(result.isUp, "\(result)")
                }
            }
            let stopped = await checker.check()
            #expect(!stopped.isUp)
            #expect(stopped.failure?.kind == .refused, "\(stopped)")

            // The restarted server answers NOT_SERVING at first: the next check must ask it, not
            // remember the old one.
            let restarted = TestHealthService(["": .notServing])
            try await withLoopbackGRPCServer(services: [restarted], port: port) { _ in
                let starting = await checker.check()
                #expect(starting.detail.hasPrefix("gRPC NOT_SERVING in "), "\(starting)")
                restarted.setStatus(.serving)
                let up = await checker.check()
                #expect(up.isUp, "\(up)")
            }
            #expect(first.askedAbout.count == 3)
            #expect(restarted.askedAbout.count == 2)
        }
    }

    // MARK: grpcs

    @Test("grpcs with the test CA configured is up")
    func grpcsTrustedCAIsUp() async throws {
        let authority = try await TestCertificateAuthority.shared()
        let health = TestHealthService(["app.Service": .serving])
        try await withLoopbackGRPCServer(services: [health], tls: authority) { server in
            let configuration = HealthChecker.Configuration(certificateVerification: .trustRootsFile(path: authority.caFile))
            let result = try await self.check("grpcs://127.0.0.1:\(server.port)/app.Service", configuration: configuration)
            #expect(result.isUp, "\(result)")
            #expect(result.detail.hasPrefix("gRPC SERVING in "), "\(result.detail)")
        }
        #expect(health.askedAbout == ["app.Service"])
    }

    @Test("grpcs verifies the host name too: localhost is in the certificate")
    func grpcsHostNameInCertificateIsUp() async throws {
        let authority = try await TestCertificateAuthority.shared()
        try await withLoopbackGRPCServer(services: [TestHealthService()], tls: authority) { server in
            let configuration = HealthChecker.Configuration(certificateVerification: .trustRootsFile(path: authority.caFile))
            let result = try await self.check("grpcs://localhost:\(server.port)", configuration: configuration)
            #expect(result.isUp, "\(result)")
        }
    }

    @Test("grpcs without the test CA is a TLS failure, and Check is never called")
    func grpcsUntrustedCAIsTLSFailure() async throws {
        let authority = try await TestCertificateAuthority.shared()
        let health = TestHealthService()
        try await withLoopbackGRPCServer(services: [health], tls: authority) { server in
            let result = try await self.check("grpcs://127.0.0.1:\(server.port)", configuration: .init(timeout: LoadedRun.unreachedTimeout))
            #expect(!result.isUp)
            #expect(result.failure?.kind == .tls, "\(result)")
            #expect(result.detail == "TLS: certificate verify failed", "\(result.detail)")
            #expect(result.latency < LoadedRun.lateness, "a TLS failure must not be retried until the timeout")
        }
        #expect(health.askedAbout.isEmpty)
    }

    @Test("grpcs to a plaintext gRPC server is a TLS failure")
    func grpcsToPlaintextServerIsTLSFailure() async throws {
        try await withLoopbackGRPCServer(services: [TestHealthService()]) { server in
            let result = try await self.check("grpcs://127.0.0.1:\(server.port)")
            #expect(!result.isUp)
            #expect(result.failure?.kind == .tls, "\(result)")
            #expect(result.detail.hasPrefix("TLS: "), "\(result.detail)")
        }
    }

    @Test("grpc (plaintext) to a TLS server is down")
    func plaintextToTLSServerIsDown() async throws {
        let authority = try await TestCertificateAuthority.shared()
        let health = TestHealthService()
        try await withLoopbackGRPCServer(services: [health], tls: authority) { server in
            let result = try await self.check("grpc://127.0.0.1:\(server.port)")
            #expect(!result.isUp, "\(result)")
        }
        #expect(health.askedAbout.isEmpty)
    }

    @Test("an unreadable CA file for grpcs is a configuration error naming the path")
    func unreadableCAFile() throws {
        let error = try #require(throws: BadInput.self) {
            _ = try HealthChecker(
                target: CheckTarget(parsing: "grpcs://127.0.0.1:50051"),
                configuration: .init(certificateVerification: .trustRootsFile(path: "/nonexistent/ca.pem"))
            )
        }
        #expect(error.code == .unreadableTrustRoots)
        #expect(error.message.contains(#""/nonexistent/ca.pem""#))
    }
}
