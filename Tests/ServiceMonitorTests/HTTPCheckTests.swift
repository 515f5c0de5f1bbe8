import ServiceMonitor
import Testing
import TestSupport

/// HTTP checks against real servers on loopback.
@Suite("HTTP checks", .tags(.fast), .shares(.processDescriptors))
struct HTTPCheckTests {
    private func checker(_ url: String, timeout: Duration = .seconds(2), expect: ExpectedStatus = .successful) throws -> HealthChecker {
        try HealthChecker(target: CheckTarget(parsing: url), configuration: .init(timeout: timeout, expectedStatus: expect))
    }

    @Test("200 is up, with the status, a positive latency and a short detail")
    func okIsUp() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 200, body: #"{"status":"green"}"#)) { server in
            try await withHealthChecker(target: CheckTarget(parsing: "\(server.baseURL)/_cluster/health?local=true")) { checker in
                let result = await checker.check()
                #expect(result.isUp, "\(result)")
                #expect(result.httpStatus == 200)
                #expect(result.failure == nil)
                #expect(result.latency > .zero)
                #expect(result.latency < .seconds(2))
                #expect(result.detail.wholeMatch(of: /HTTP 200 in [0-9]+(\.[0-9])? m?s/) != nil, "\(result.detail)")
            }
            #expect(server.receivedRequests == ["/_cluster/health?local=true"])
        }
    }

    @Test("503 is down with status 503")
    func unavailableIsDown() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 503)) { server in
            try await withHealthChecker(target: CheckTarget(parsing: server.baseURL)) { checker in
                let result = await checker.check()
                #expect(!result.isUp)
                #expect(result.httpStatus == 503)
                #expect(result.failure?.kind == .unexpectedStatus)
                #expect(result.detail.hasPrefix("HTTP 503 in "), "\(result.detail)")
            }
        }
    }

    @Test("a custom --expect-status accepting 503 makes 503 up")
    func customExpectedStatus() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 503)) { server in
            let checker = try self.checker(server.baseURL, expect: ExpectedStatus(parsing: "200,503"))
            let result = await checker.check()
            await checker.shutdown()
            #expect(result.isUp, "\(result)")
            #expect(result.httpStatus == 503)
        }
    }

    @Test("a 302 is not followed: down, and the redirect target sees no request")
    func redirectIsNotFollowed() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 200)) { redirectTarget in
            let redirect = LoopbackHTTPServer.Response(status: 302, headers: [("Location", "\(redirectTarget.baseURL)/elsewhere")])
            try await withLoopbackHTTPServer(responding: redirect) { server in
                try await withHealthChecker(target: CheckTarget(parsing: "\(server.baseURL)/health")) { checker in
                    let result = await checker.check()
                    #expect(!result.isUp)
                    #expect(result.httpStatus == 302)
                    #expect(result.failure?.kind == .unexpectedStatus)
                    #expect(result.detail.hasPrefix("HTTP 302 in "))
                }
                #expect(server.receivedRequests == ["/health"])
            }
            #expect(redirectTarget.receivedRequests.isEmpty)
        }
    }

    @Test("a closed port is refused, quickly")
    func closedPortIsRefused() async throws {
        let port = try await closedLoopbackPort()
        try await withHealthChecker(target: CheckTarget(parsing: "http://127.0.0.1:\(port)/")) { checker in
            let result = await checker.check()
            #expect(!result.isUp)
            #expect(result.failure?.kind == .refused, "\(result)")
            #expect(result.detail == "connection refused")
            #expect(result.httpStatus == nil)
            #expect(result.latency < .seconds(1), "a refusal must not wait for the timeout")
        }
    }

    @Test("a server that accepts and never answers times out within the timeout plus a margin")
    func silentServerTimesOut() async throws {
        try await withSilentServer { server in
            let checker = try self.checker("http://127.0.0.1:\(server.port)/", timeout: .milliseconds(500))
            let clock = ContinuousClock()
            let started = clock.now
            let result = await checker.check()
            let elapsed = clock.now - started
            await checker.shutdown()
            #expect(!result.isUp)
            #expect(result.failure?.kind == .timeout, "\(result)")
            #expect(result.detail == "timed out after 500 ms")
            #expect(elapsed >= .milliseconds(450))
            #expect(elapsed < .milliseconds(1500), "took \(elapsed)")
        }
    }

    @Test("an HTTP connect that hangs (full accept queue) times out within the timeout plus a margin")
    func hangingConnectTimesOut() async throws {
        let listener = try BackloggedListener()
        defer { listener.close() }
        let checker = try self.checker("http://127.0.0.1:\(listener.port)/", timeout: .milliseconds(300))
        let clock = ContinuousClock()
        let started = clock.now
        let result = await checker.check()
        let elapsed = clock.now - started
        await checker.shutdown()
        #expect(result.failure?.kind == .timeout, "\(result)")
        #expect(result.detail == "timed out after 300 ms")
        #expect(elapsed < .milliseconds(1300), "took \(elapsed)")
    }

    @Test("a response head whose body never comes is a timeout, within the timeout plus a margin")
    func stalledBodyTimesOut() async throws {
        let stalled = LoopbackHTTPServer.Response(status: 200, body: "never sent", stallsAfterHead: true)
        try await withLoopbackHTTPServer(responding: stalled) { server in
            let checker = try self.checker(server.baseURL, timeout: .milliseconds(500))
            let clock = ContinuousClock()
            let started = clock.now
            let result = await checker.check()
            let elapsed = clock.now - started
            await checker.shutdown()
            #expect(server.receivedRequests.count == 1)
            #expect(!result.isUp)
            #expect(result.failure?.kind == .timeout, "\(result)")
            #expect(elapsed < .milliseconds(1500), "took \(elapsed)")
        }
    }

    @Test("cancelling a check (shutdown) ends it at once, as a down result")
    func cancellationEndsCheckPromptly() async throws {
        try await withSilentServer { server in
            let checker = try self.checker("http://127.0.0.1:\(server.port)/", timeout: .seconds(20))
            let clock = ContinuousClock()
            let started = clock.now
            let result = await withTaskGroup(of: CheckResult?.self) { group in
                group.addTask { await checker.check() }
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(200))
                    return nil
                }
                // The sleeper finishes first; cancelling the group cancels the check.
                _ = await group.next()
                group.cancelAll()
                return await group.next() ?? nil
            }
            let elapsed = clock.now - started
            await checker.shutdown()
            let cancelled = try #require(result)
            #expect(!cancelled.isUp)
            #expect(cancelled.failure?.kind == .other)
            #expect(cancelled.detail == "cancelled")
            #expect(elapsed < .seconds(2), "took \(elapsed)")
        }
    }

    @Test("one checker serves many checks and sees a restarted service fresh")
    func reusedAcrossRestart() async throws {
        let server = try await LoopbackHTTPServer.start(responding: .init(status: 200))
        let checker = try self.checker(server.baseURL)
        var results: [CheckResult] = []
        for _ in 0..<5 { results.append(await checker.check()) }
        #expect(server.receivedRequests.count == 5)
        await server.stop()
        // Nothing listens any more, and no pooled connection hides it: no check is up again, and
        // once the pool has seen its connection close, checks are refused. How many checks meet
        // the dying pooled connection first (reset, or a timeout on a loaded machine) is timing,
        // not behaviour, so only the deadline bounds them.
        var afterStop: [CheckResult] = []
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            afterStop.append(await checker.check())
        } while afterStop.last?.failure?.kind != .refused && ContinuousClock.now < deadline
        await checker.shutdown()
        #expect(results.allSatisfy { $0.isUp })
        #expect(afterStop.allSatisfy { !$0.isUp }, "\(afterStop)")
        #expect(afterStop.last?.failure?.kind == .refused, "\(afterStop)")
    }

    @Test("a name that does not resolve is a DNS failure")
    func unresolvableHostIsDNS() async throws {
        // `.invalid` is reserved (RFC 2606) and never resolves.
        let checker = try self.checker("http://no-such-host.invalid:8080/", timeout: .seconds(5))
        let result = await checker.check()
        await checker.shutdown()
        #expect(!result.isUp)
        #expect(result.failure?.kind == .dns, "\(result)")
        #expect(result.detail == #"DNS: cannot resolve "no-such-host.invalid""#)
    }

    @Test("shutdown is idempotent, and a check after it is down instead of trapping")
    func checkAfterShutdown() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 200)) { server in
            let checker = try self.checker(server.baseURL)
            #expect(await checker.check().isUp)
            await checker.shutdown()
            await checker.shutdown()
            let result = await checker.check()
            #expect(!result.isUp)
            #expect(result.failure?.kind == .other, "\(result)")
            #expect(server.receivedRequests.count == 1)
        }
    }

    @Test("a non-positive timeout is rejected where it is parsed, quoting it as written")
    func rejectsNonPositiveTimeout() throws {
        let error = #expect(throws: BadInput.self) { try Duration(parsingPositive: "0ms", option: "--timeout") }
        #expect(error?.description == #"--timeout "0ms": must be longer than zero"#)
        #expect(error?.exitStatus == .usage)
    }
}
