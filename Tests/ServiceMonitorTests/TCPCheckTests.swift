import ServiceMonitor
import Testing
import TestSupport

@Suite("TCP checks", .tags(.fast), .shares(.processDescriptors))
struct TCPCheckTests {
    @Test("connecting to a listening socket is up")
    func listeningIsUp() async throws {
        try await withSilentServer { server in
            try await withHealthChecker(target: CheckTarget(parsing: "tcp://127.0.0.1:\(server.port)")) { checker in
                let result = await checker.check()
                #expect(result.isUp, "\(result)")
                #expect(result.httpStatus == nil)
                #expect(result.latency > .zero)
                #expect(result.detail.hasPrefix("TCP connect in "), "\(result.detail)")
            }
        }
    }

    @Test("a closed port is refused")
    func closedPortIsRefused() async throws {
        let port = try await closedLoopbackPort()
        try await withHealthChecker(target: CheckTarget(parsing: "tcp://127.0.0.1:\(port)")) { checker in
            let result = await checker.check()
            #expect(!result.isUp)
            #expect(result.failure?.kind == .refused, "\(result)")
            #expect(result.detail == "connection refused")
        }
    }

    @Test("a connect that hangs (full accept queue) times out within the timeout plus a margin")
    func hangingConnectTimesOut() async throws {
        let listener = try BackloggedListener()
        defer { listener.close() }
        let configuration = HealthChecker.Configuration(timeout: .milliseconds(300))
        try await withHealthChecker(target: CheckTarget(parsing: "tcp://127.0.0.1:\(listener.port)"), configuration: configuration) { checker in
            let clock = ContinuousClock()
            let started = clock.now
            let result = await checker.check()
            let elapsed = clock.now - started
            #expect(!result.isUp)
            #expect(result.failure?.kind == .timeout, "\(result)")
            #expect(result.detail == "timed out after 300 ms")
            #expect(elapsed >= .milliseconds(250))
            #expect(elapsed < .milliseconds(1300), "took \(elapsed)")
        }
    }
}
