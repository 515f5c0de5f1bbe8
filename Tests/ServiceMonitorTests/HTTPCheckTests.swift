import NIOHTTP1
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
            let configuration = HealthChecker.Configuration(timeout: LoadedRun.unreachedTimeout)
            try await withHealthChecker(target: CheckTarget(parsing: "\(server.baseURL)/_cluster/health?local=true"), configuration: configuration) { checker in
                let result = await checker.check()
                #expect(result.isUp, "\(result)")
                #expect(result.httpStatus == 200)
                #expect(result.failure == nil)
                #expect(result.latency > .zero)
                #expect(result.latency < LoadedRun.lateness)
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
        let configuration = HealthChecker.Configuration(timeout: LoadedRun.unreachedTimeout)
        try await withHealthChecker(target: CheckTarget(parsing: "http://127.0.0.1:\(port)/"), configuration: configuration) { checker in
            let result = await checker.check()
            #expect(!result.isUp)
            #expect(result.failure?.kind == .refused, "\(result)")
            #expect(result.detail == "connection refused")
            #expect(result.httpStatus == nil)
            #expect(result.latency < LoadedRun.lateness, "a refusal must not wait for the timeout")
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
            #expect(elapsed < .milliseconds(500) + LoadedRun.lateness, "took \(elapsed)")
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
        #expect(elapsed < .milliseconds(300) + LoadedRun.lateness, "took \(elapsed)")
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
            #expect(elapsed < .milliseconds(500) + LoadedRun.lateness, "took \(elapsed)")
        }
    }

    @Test("cancelling a check (shutdown) ends it at once, as a down result")
    func cancellationEndsCheckPromptly() async throws {
        try await withSilentServer { server in
            let checker = try self.checker("http://127.0.0.1:\(server.port)/", timeout: LoadedRun.unreachedTimeout)
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
            #expect(elapsed < .milliseconds(200) + LoadedRun.lateness, "took \(elapsed)")
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
        // not behaviour, so only the deadline bounds them: a generous one, since a fully loaded
        // test run once saw three checks time out in a row before the refusal.
        var afterStop: [CheckResult] = []
        let deadline = ContinuousClock.now + .seconds(15)
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

/// `--http-header`, `--http-method` and `--expect-body` against real servers on loopback.
@Suite("HTTP check options", .tags(.fast), .shares(.processDescriptors))
struct HTTPCheckOptionTests {
    /// Generous: the figure under test is the verdict, not the time, on a loaded machine.
    private static let timeout: Duration = .seconds(10)

    private func check(
        _ server: LoopbackHTTPServer, headers: [String] = [], method: HTTPCheckMethod = .get, expectBody: String? = nil
    ) async throws -> CheckResult {
        let configuration = HealthChecker.Configuration(
            timeout: Self.timeout,
            headers: try headers.map { text throws(BadInput) in try HTTPCheckHeader(parsing: text) },
            method: method,
            expectedBody: try expectBody.map { text throws(BadInput) in try BodyPattern(parsing: text) }
        )
        return try await withHealthChecker(target: CheckTarget(parsing: "\(server.baseURL)/health"), configuration: configuration) { checker in
            await checker.check()
        }
    }

    @Test("--http-header values reach the server, in order, and a User-Agent given replaces the default")
    func headersReachTheServer() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 200)) { server in
            let result = try await self.check(server, headers: ["Authorization: Bearer t0k3n", "X-Probe:  a, b ", "X-Probe: c", "User-Agent: probe/1"])
            #expect(result.isUp, "\(result)")
            let head = try #require(server.receivedHeads.first)
            #expect(head.method == .GET)
            #expect(head.headers["Authorization"] == ["Bearer t0k3n"])
            #expect(head.headers["X-Probe"] == ["a, b", "c"])
            #expect(head.headers["User-Agent"] == ["probe/1"])
            #expect(head.headers["Connection"] == ["close"])
        }
    }

    @Test("without --http-header the request carries the default User-Agent")
    func defaultUserAgent() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 200)) { server in
            #expect(try await self.check(server).isUp)
            let head = try #require(server.receivedHeads.first)
            #expect(head.headers["User-Agent"] == ["service-monitor"])
        }
    }

    @Test("--http-method HEAD sends HEAD and is judged by its status")
    func headMethod() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 200, body: "ignored")) { server in
            let result = try await self.check(server, method: .head)
            #expect(result.isUp, "\(result)")
            #expect(server.receivedHeads.map(\.method) == [.HEAD])
        }
        try await withLoopbackHTTPServer(responding: .init(status: 503)) { server in
            let result = try await self.check(server, method: .head)
            #expect(result.failure?.kind == .unexpectedStatus, "\(result)")
        }
    }

    @Test("--expect-body: a matching body is up, another body is down saying it did not match")
    func bodyMatch() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 200, body: #"{"status":"green","nodes":3}"#)) { server in
            let up = try await self.check(server, expectBody: #""status":"(green|yellow)""#)
            #expect(up.isUp, "\(up)")
            #expect(up.detail.hasPrefix("HTTP 200 in "), "\(up.detail)")
            let down = try await self.check(server, expectBody: #""status":"green","nodes":[4-9]"#)
            #expect(!down.isUp)
            #expect(down.failure?.kind == .unexpectedBody, "\(down)")
            #expect(down.httpStatus == 200)
            #expect(down.detail.hasSuffix("body did not match --expect-body"), "\(down.detail)")
        }
    }

    @Test("--expect-body does not rescue an unexpected status")
    func statusComesFirst() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 503, body: "green")) { server in
            let result = try await self.check(server, expectBody: "green")
            #expect(result.failure?.kind == .unexpectedStatus, "\(result)")
        }
    }

    @Test("--expect-body judges only the first 64 KiB of a 1 MiB body")
    func bodyCap() async throws {
        let filler = String(repeating: "x", count: 1 << 20)
        try await withLoopbackHTTPServer(responding: .init(status: 200, body: filler + "NEEDLE")) { server in
            let beyond = try await self.check(server, expectBody: "NEEDLE")
            #expect(beyond.failure?.kind == .unexpectedBody, "\(beyond)")
        }
        // Bytes 65530-65533 say EDGE, inside the cap; PAST straddles its end (65534-65537).
        let edge = String(repeating: "x", count: 65530) + "EDGE" + "PAST" + filler
        try await withLoopbackHTTPServer(responding: .init(status: 200, body: edge)) { server in
            let atTheEdge = try await self.check(server, expectBody: "EDGEPA")
            #expect(atTheEdge.isUp, "\(atTheEdge)")
            let pastTheEdge = try await self.check(server, expectBody: "EDGEPAS")
            #expect(pastTheEdge.failure?.kind == .unexpectedBody, "\(pastTheEdge)")
        }
        try await withLoopbackHTTPServer(responding: .init(status: 200, body: String(repeating: "x", count: 60 * 1024) + "NEEDLE" + filler)) { server in
            let within = try await self.check(server, expectBody: "NEEDLE")
            #expect(within.isUp, "\(within)")
        }
    }

    @Test(
        "malformed --http-header values are refused, naming the value",
        arguments: [
            ("X-Probe", "no colon"), (": v", "name before the colon is empty"), ("X Probe: v", "may hold only"),
            ("X-Prøbe: v", "may hold only"), ("X-Probe: a\r\nInjected: b", "CR, LF or NUL"), ("X-Probe: a\nb", "CR, LF or NUL"),
        ]
    )
    func malformedHeaders(_ text: String, _ reason: String) throws {
        let error = try #require(throws: BadInput.self) { try HTTPCheckHeader(parsing: text) }
        #expect(error.description.hasPrefix("--http-header \(text.debugDescription): "), "\(error)")
        #expect(error.description.contains(reason), "\(error)")
        #expect(error.exitStatus == .usage)
    }

    @Test("--http-method accepts GET and HEAD only; --expect-body refuses an invalid regex and HEAD")
    func badMethodAndPattern() async throws {
        #expect(try HTTPCheckMethod(parsing: "HEAD") == .head)
        let method = try #require(throws: BadInput.self) { try HTTPCheckMethod(parsing: "POST") }
        #expect(method.description == #"--http-method "POST": use GET or HEAD"#)
        let pattern = try #require(throws: BadInput.self) { try BodyPattern(parsing: "green(") }
        #expect(pattern.description.hasPrefix(#"--expect-body "green(": "#), "\(pattern)")
        #expect(pattern.exitStatus == .usage)
        let head = try #require(throws: BadInput.self) {
            _ = try HealthChecker(
                target: CheckTarget(parsing: "http://127.0.0.1:9/"),
                configuration: .init(method: .head, expectedBody: BodyPattern(parsing: "green"))
            )
        }
        #expect(head.description.contains("HEAD"), "\(head)")
    }
}
