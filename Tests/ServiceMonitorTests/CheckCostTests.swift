import Foundation
import ServiceMonitor
import Testing
import TestSupport

/// A check every few seconds for months: one checker must stay cheap and leak nothing.
@Suite("Check cost", .tags(.fast), .needsAlone(.processDescriptors))
struct CheckCostTests {
    /// Open file descriptors of this process.
    private func openDescriptors() throws -> Int {
        try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count
    }

    @Test("every check uses a fresh connection, and none is left open")
    func freshConnectionPerCheckWithoutLeaks() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 200, body: "ok")) { server in
            let checks = 200
            let descriptorsBefore = try self.openDescriptors()
            let clock = ContinuousClock()
            let started = clock.now
            try await withHealthChecker(target: CheckTarget(parsing: server.baseURL)) { checker in
                for _ in 0..<checks {
                    let result = await checker.check()
                    #expect(result.isUp, "\(result)")
                }
            }
            let elapsed = clock.now - started
            #expect(server.receivedRequests.count == checks)
            // No keep-alive reuse: a restarted service is always seen through a new connection.
            #expect(server.acceptedConnections == checks)
            // Generous margin: other tests run in parallel and open sockets of their own.
            let descriptorsAfter = try self.openDescriptors()
            #expect(descriptorsAfter < descriptorsBefore + 50, "descriptors \(descriptorsBefore) -> \(descriptorsAfter)")
            // Loopback checks take about a millisecond each; 200 in 10 s would mean something is
            // being set up per check (a client, an event loop group).
            #expect(elapsed < .seconds(10), "\(checks) checks took \(elapsed)")
        }
    }

    /// A grpc(s) check makes its client, transport and connection per check (see GRPCProbe):
    /// that must stay cheap — no threads or event loops of its own — and close all it opened.
    @Test("every grpc and grpcs check uses a fresh connection, cheaply, and none is left open", arguments: [false, true])
    func grpcFreshConnectionPerCheckWithoutLeaks(tls: Bool) async throws {
        let authority = try await TestCertificateAuthority.shared()
        let health = TestHealthService()
        try await withLoopbackGRPCServer(services: [health], tls: tls ? authority : nil) { server in
            let checks = 100
            let url = "\(tls ? "grpcs" : "grpc")://127.0.0.1:\(server.port)"
            let configuration = HealthChecker.Configuration(certificateVerification: .trustRootsFile(path: authority.caFile))
            let descriptorsBefore = try self.openDescriptors()
            let clock = ContinuousClock()
            let started = clock.now
            try await withHealthChecker(target: CheckTarget(parsing: url), configuration: configuration) { checker in
                for _ in 0..<checks {
                    let result = await checker.check()
                    #expect(result.isUp, "\(result)")
                }
            }
            let elapsed = clock.now - started
            #expect(health.askedAbout.count == checks)
            #expect(server.acceptedConnections == checks)
            let descriptorsAfter = try self.openDescriptors()
            #expect(descriptorsAfter < descriptorsBefore + 50, "descriptors \(descriptorsBefore) -> \(descriptorsAfter)")
            // 10-20 ms each on loopback in a debug build (client and server both in this
            // process, with a TLS handshake); 100 in 20 s would mean far more than a connection
            // is set up per check.
            #expect(elapsed < .seconds(20), "\(checks) checks took \(elapsed)")
        }
    }
}
