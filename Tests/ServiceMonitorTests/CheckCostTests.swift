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
}
