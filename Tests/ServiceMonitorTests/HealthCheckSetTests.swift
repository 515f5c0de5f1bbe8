import Foundation
import ServiceMonitor
import Testing
import TestSupport

/// Several checks of one instance against real listeners and real commands: one verdict, the
/// failing checks named, one round run concurrently.
@Suite("Several checks per instance", .tags(.fast), .shares(.processDescriptors))
struct HealthCheckSetTests {
    private func round(_ targets: [CheckTarget], timeout: Duration = .seconds(10)) async throws -> CheckResult {
        try await withHealthCheckSet(targets: targets, configuration: .init(timeout: timeout)) { checks in
            await checks.check()
        }
    }

    @Test("one failing check of three makes the instance down and the detail names only that one")
    func oneFailingOfThreeIsNamed() async throws {
        let closed = try await closedLoopbackPort()
        try await withLoopbackHTTPServer(responding: .init(status: 200)) { server in
            try await withSilentServer { listener in
                let result = try await self.round([
                    CheckTarget(parsing: "\(server.baseURL)/health"),
                    CheckTarget(parsing: "tcp://127.0.0.1:\(closed)"),
                    CheckTarget(parsing: "tcp://127.0.0.1:\(listener.port)"),
                ])
                #expect(!result.isUp)
                #expect(result.detail == "tcp://127.0.0.1:\(closed): connection refused", "\(result.detail)")
                #expect(result.failure?.kind == .refused)
                #expect(result.failure?.detail == result.detail)
                // The failing check got no HTTP answer; the passing http check's 200 is not the verdict's.
                #expect(result.httpStatus == nil)
            }
            #expect(server.receivedRequests == ["/health"])
        }
    }

    @Test("every failing check is named, in the order given; kind and status are the first failing check's")
    func everyFailingCheckIsNamedInOrder() async throws {
        let closed = try await closedLoopbackPort()
        try await withLoopbackHTTPServer(responding: .init(status: 503)) { server in
            let result = try await self.round([
                CheckTarget(parsingCommand: "true"),
                CheckTarget(parsing: server.baseURL),
                CheckTarget(parsingCommand: "sh -c 'echo not synced && exit 3'"),
                CheckTarget(parsing: "tcp://127.0.0.1:\(closed)"),
            ])
            #expect(!result.isUp)
            let parts = result.detail.components(separatedBy: "; ")
            try #require(parts.count == 3, "\(result.detail)")
            #expect(parts[0].hasPrefix("http://127.0.0.1:\(server.port)/: HTTP 503 in "), "\(result.detail)")
            #expect(parts[1] == "sh -c echo not synced && exit 3: command exited 3: not synced")
            #expect(parts[2] == "tcp://127.0.0.1:\(closed): connection refused")
            #expect(!result.detail.contains("true"), "a passing check is not named: \(result.detail)")
            #expect(result.failure?.kind == .unexpectedStatus)
            #expect(result.httpStatus == 503)
        }
    }

    @Test("all up: up, with every check's detail")
    func allUp() async throws {
        try await withLoopbackHTTPServer(responding: .init(status: 204)) { server in
            let result = try await self.round([CheckTarget(parsing: server.baseURL), CheckTarget(parsingCommand: "echo Synced")])
            #expect(result.isUp, "\(result)")
            #expect(result.httpStatus == 204)
            #expect(result.detail.hasPrefix("http://127.0.0.1:\(server.port)/: HTTP 204 in "), "\(result.detail)")
            #expect(result.detail.contains("; echo Synced: command exited 0 in "), "\(result.detail)")
            #expect(result.detail.hasSuffix(": Synced"), "\(result.detail)")
        }
    }

    @Test("with a single check the result is that check's own, detail unchanged")
    func singleCheckKeepsItsDetail() async throws {
        let closed = try await closedLoopbackPort()
        let result = try await self.round([CheckTarget(parsing: "tcp://127.0.0.1:\(closed)")])
        #expect(result.detail == "connection refused")
        #expect(result.failure?.kind == .refused)
    }

    @Test("one round runs its checks at once: three checks that each wait for the other two all pass")
    func checksOfARoundRunConcurrently() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("service-monitor-set-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Each check marks that it has started, then waits until all three have. Run one after
        // another, the first would wait until its timeout and the round would be down.
        let script = #"touch "$1/$2"; while [ "$(ls "$1" | wc -l)" -lt 3 ]; do sleep 0.05; done"#
        let targets = (1...3).map { CheckTarget(command: ["/bin/sh", "-c", script, "sh", directory, "\($0)"]) }
        let result = try await self.round(targets, timeout: LoadedRun.unreachedTimeout)
        #expect(result.isUp, "\(result)")
    }

    @Test("each check of a round is bounded by the timeout, so is the round")
    func aHangingCheckBoundsTheRoundByTheTimeout() async throws {
        let result = try await self.round(
            [CheckTarget(parsingCommand: "true"), CheckTarget(parsingCommand: "sleep 30")], timeout: .milliseconds(500)
        )
        #expect(result.detail == "sleep 30: command timed out after 500 ms", "\(result.detail)")
        #expect(result.failure?.kind == .timeout)
        #expect(result.latency < .milliseconds(500) + LoadedRun.lateness, "round took \(result.latency)")
    }

    @Test("rise and fall apply to the combined verdict")
    func riseAndFallApplyToTheCombinedVerdict() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("service-monitor-set-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: marker) }
        var state = HealthState(try HealthThresholds(rise: 2, fall: 2))
        try await withSilentServer { listener in
            let targets = [try CheckTarget(parsing: "tcp://127.0.0.1:\(listener.port)"), try CheckTarget(command: ["test", "-e", marker])]
            try await withHealthCheckSet(targets: targets, configuration: .init(timeout: .seconds(10))) { checks in
                // The tcp check passes throughout; only the file decides the combined verdict.
                #expect(state.record(await checks.check()) == nil)
                #expect(state.record(await checks.check()) == HealthTransition(from: .unknown, to: .down))
                #expect(FileManager.default.createFile(atPath: marker, contents: Data()))
                #expect(state.record(await checks.check()) == nil, "one good round is not enough with --rise 2")
                #expect(state.record(await checks.check()) == HealthTransition(from: .down, to: .up))
                try FileManager.default.removeItem(atPath: marker)
                let firstBad = await checks.check()
                #expect(firstBad.detail == "test -e \(marker): command exited 1", "\(firstBad.detail)")
                #expect(state.record(firstBad) == nil, "one bad round is not enough with --fall 2")
                #expect(state.record(await checks.check()) == HealthTransition(from: .up, to: .down))
            }
        }
    }

    @Test("a checker that cannot be created fails the set, and the ones made before it are shut down")
    func aFailedCreationShutsDownTheCheckersMadeBefore() async throws {
        // The http checker's client is made first; AsyncHTTPClient traps in debug builds if it
        // is released without a shutdown.
        let error = try await #require(throws: BadInput.self) {
            try await withHealthCheckSet(
                targets: [CheckTarget(parsing: "http://127.0.0.1:9/"), CheckTarget(parsing: "https://127.0.0.1:9/")],
                configuration: .init(certificateVerification: .trustRootsFile(path: "/nonexistent/ca.pem"))
            ) { _ in }
        }
        #expect(error.code == .unreadableTrustRoots)
    }
}

@Suite("Which checks take which options", .tags(.fast))
struct CheckOptionTests {
    @Test func eachKindStatesTheOptionsItTakes() {
        #expect(CheckTarget.Kind.http.options == [.httpHeader, .httpMethod, .expectBody])
        #expect(CheckTarget.Kind.https.options == [.httpHeader, .httpMethod, .expectBody, .checkCacert])
        #expect(CheckTarget.Kind.tcp.options == [])
        #expect(CheckTarget.Kind.grpc.options == [])
        #expect(CheckTarget.Kind.grpcs.options == [.checkCacert])
        #expect(CheckTarget.Kind.command.options == [.expectBody])
    }

    @Test(arguments: [
        (CheckOption.httpHeader, ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"], [], "--http-header applies to http:// and https:// checks only"),
        (CheckOption.httpMethod, [], ["true"], "--http-method applies to http:// and https:// checks only"),
        (CheckOption.checkCacert, ["tcp://127.0.0.1:1"], ["true"], "--check-cacert applies to https:// and grpcs:// checks only"),
        (CheckOption.checkCacert, ["http://127.0.0.1:1/", "grpc://127.0.0.1:2"], [], "--check-cacert applies to https:// and grpcs:// checks only"),
        (CheckOption.expectBody, ["tcp://127.0.0.1:1"], [], "--expect-body applies to http://, https:// and command checks only"),
    ])
    func refusedWhenNoCheckTakesIt(_ option: CheckOption, _ urls: [String], _ commands: [String], _ message: String) throws {
        let targets = try urls.map { try CheckTarget(parsing: $0) } + commands.map { try CheckTarget(parsingCommand: $0) }
        let error = try #require(throws: BadInput.self) { try option.requireUsed(by: targets) }
        #expect(error.description == message)
        #expect(error.exitStatus == .usage)
    }

    @Test("taken by one check of several, an option is accepted (the others ignore it)")
    func acceptedWhenOneCheckTakesIt() throws {
        let tcp = try CheckTarget(parsing: "tcp://127.0.0.1:1")
        let http = try CheckTarget(parsing: "http://127.0.0.1:1/")
        let https = try CheckTarget(parsing: "https://127.0.0.1:1/")
        let command = try CheckTarget(parsingCommand: "true")
        for option in [CheckOption.httpHeader, .httpMethod, .expectBody] {
            try option.requireUsed(by: [tcp, http])
        }
        try CheckOption.checkCacert.requireUsed(by: [http, https])
        try CheckOption.checkCacert.requireUsed(by: [tcp, try CheckTarget(parsing: "grpcs://127.0.0.1:1")])
        try CheckOption.expectBody.requireUsed(by: [tcp, command])
    }
}
