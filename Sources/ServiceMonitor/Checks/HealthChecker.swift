import GRPCHealthProto
import Racing

/// Performs health checks of one target, repeatedly, with resources created once.
///
/// ```swift
/// let target = try CheckTarget(parsing: "http://127.0.0.1:9200/_cluster/health")
/// try await withHealthChecker(target: target) { checker in
///     let result = await checker.check()   // never throws: failures are down results
///     print(result.detail)                 // "HTTP 200 in 3 ms"
/// }
/// ```
///
/// Create it once and call ``check()`` every interval; call ``shutdown()`` before dropping it (or
/// use ``withHealthChecker(target:configuration:isolation:_:)``) — AsyncHTTPClient traps in debug
/// builds when a client is released un-shut-down. Calls may overlap; each is independent.
public final class HealthChecker: Sendable {
    /// What is checked.
    public let target: CheckTarget
    /// How it is checked.
    public let configuration: Configuration

    private enum Probe: Sendable {
        /// Bounded from outside by the configured timeout.
        case timeLimited(TimeLimitedProbe)
        /// Bounds itself: at the timeout it kills the command's process group and reaps it,
        /// which a time limit from outside could not wait for.
        case command(CommandProbe)
    }

    private enum TimeLimitedProbe: Sendable {
        case http(HTTPProbe)
        case tcp(TCPProbe)
        case grpc(GRPCProbe)
    }

    private let probe: Probe
    private let classifier: FailureClassifier

    /// - Throws: ``BadInput`` with ``BadInput/Code/unreadableTrustRoots`` for a bad CA file, the
    ///   one thing only opening it can tell.
    public init(target: CheckTarget, configuration: Configuration = .defaults) throws(BadInput) {
        self.target = target
        self.configuration = configuration
        self.classifier = FailureClassifier(timeout: configuration.timeout, host: target.host)
        switch target.kind {
        case .http, .https:
            self.probe = .timeLimited(.http(try HTTPProbe(target: target, configuration: configuration)))
        case .tcp:
            self.probe = .timeLimited(.tcp(TCPProbe(target: target)))
        case .grpc, .grpcs:
            self.probe = .timeLimited(.grpc(try GRPCProbe(target: target, configuration: configuration)))
        case .command:
            self.probe = .command(CommandProbe(words: target.command))
        }
    }

    /// Runs one check, bounded by the configured timeout. Never throws: refusals, timeouts, TLS
    /// and DNS failures and unexpected statuses all come back as a down result.
    public func check() async -> CheckResult {
        let clock = ContinuousClock()
        let start = clock.now
        let probe: TimeLimitedProbe
        switch self.probe {
        case .command(let command):
            let outcome = await command.run(timeout: self.configuration.timeout)
            return self.result(of: outcome, latency: clock.now - start)
        case .timeLimited(let timeLimited):
            probe = timeLimited
        }
        // The probes' own timeouts are not enough: AsyncHTTPClient's deadline stops at the
        // response head, and a check must also bound reading the body and any DNS stall, because
        // a hung check would freeze the watch loop (and with it the systemd watchdog).
        let outcome: TimeLimitOutcome<ProbeOutcome>?
        do {
            outcome = try await withTimeLimit(self.configuration.timeout) { [probe, timeout = self.configuration.timeout] in
                switch probe {
                case .http(let http): return ProbeOutcome(await http.run(timeout: timeout))
                case .tcp(let tcp): return ProbeOutcome(await tcp.run(timeout: timeout))
                case .grpc(let grpc): return ProbeOutcome(await grpc.run(timeout: timeout))
                }
            }
        } catch {
            // The probes never throw: only the calling task's cancellation (shutdown) ends up here.
            outcome = nil
        }
        let latency = clock.now - start
        return self.result(of: outcome, latency: latency)
    }

    /// Releases the HTTP client. Idempotent; checks after shutdown come back down.
    public func shutdown() async {
        if case .timeLimited(.http(let http)) = self.probe {
            await http.shutdown()
        }
    }

    private func result(of outcome: CommandProbe.Outcome, latency: Duration) -> CheckResult {
        func down(_ kind: CheckFailure.Kind, _ detail: String) -> CheckResult {
            CheckResult(latency: latency, failure: CheckFailure(kind: kind, detail: detail), detail: detail)
        }
        func withLine(_ text: String, _ line: String) -> String {
            line.isEmpty ? text : "\(text): \(line)"
        }
        switch outcome {
        case .exited(0, let line, let output):
            let detail = withLine("command exited 0 in \(latency.checkDetailText)", line)
            if let pattern = self.configuration.expectedBody, !pattern.matches(output) {
                return down(.unexpectedBody, "\(detail): output did not match --expect-body")
            }
            return CheckResult(latency: latency, detail: detail)
        case .exited(let status, let line, _):
            return down(.other, withLine("command exited \(status)", line))
        case .signalled(let signal, let line):
            return down(.other, withLine("command killed by signal \(signal)", line))
        case .timedOut:
            return down(.timeout, "command timed out after \(self.configuration.timeout.checkDetailText)")
        case .notFound:
            return down(.other, "command not found: \(self.target.command.first ?? "")")
        case .failed(let reason):
            return down(.other, "command failed: \(reason)")
        }
    }

    /// `outcome` is `nil` when the check was cancelled.
    private func result(of outcome: TimeLimitOutcome<ProbeOutcome>?, latency: Duration) -> CheckResult {
        switch outcome {
        case .timedOut:
            let failure = self.classifier.timedOut()
            return CheckResult(latency: latency, failure: failure, detail: failure.detail)
        case nil:
            let failure = CheckFailure(kind: .other, detail: "cancelled")
            return CheckResult(latency: latency, failure: failure, detail: failure.detail)
        case .finished(.failed(let error)):
            let failure = self.classifier.classify(error)
            return CheckResult(latency: latency, failure: failure, detail: failure.detail)
        case .finished(.connected):
            return CheckResult(latency: latency, detail: "TCP connect in \(latency.checkDetailText)")
        case .finished(.servingStatus(let status)):
            let detail = "gRPC \(status.protoName) in \(latency.checkDetailText)"
            guard status == .serving else {
                return CheckResult(latency: latency, failure: CheckFailure(kind: .unexpectedStatus, detail: detail), detail: detail)
            }
            return CheckResult(latency: latency, detail: detail)
        case .finished(.responded(let status, let bodyMatched)):
            let detail = "HTTP \(status) in \(latency.checkDetailText)"
            guard self.configuration.expectedStatus.contains(status) else {
                let failure = CheckFailure(kind: .unexpectedStatus, detail: detail)
                return CheckResult(latency: latency, httpStatus: status, failure: failure, detail: detail)
            }
            guard bodyMatched != false else {
                let failure = CheckFailure(kind: .unexpectedBody, detail: "\(detail): body did not match --expect-body")
                return CheckResult(latency: latency, httpStatus: status, failure: failure, detail: failure.detail)
            }
            return CheckResult(latency: latency, httpStatus: status, detail: detail)
        }
    }
}

/// Runs `body` with a checker for `target`, shutting the checker down afterwards (also when
/// `body` throws). `body` runs in the caller's isolation.
public func withHealthChecker<Result>(
    target: CheckTarget,
    configuration: HealthChecker.Configuration = .defaults,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (HealthChecker) async throws -> Result
) async throws -> Result {
    let checker = try HealthChecker(target: target, configuration: configuration)
    do {
        let result = try await body(checker)
        await checker.shutdown()
        return result
    } catch {
        await checker.shutdown()
        throw error
    }
}

/// What a time-limited probe reported, in one type the time limit can carry.
private enum ProbeOutcome: Sendable {
    case responded(status: Int, bodyMatched: Bool?)
    case connected
    case servingStatus(Grpc_Health_V1_HealthCheckResponse.ServingStatus)
    case failed(any Error)

    init(_ outcome: HTTPProbe.Outcome) {
        switch outcome {
        case .responded(let status, let bodyMatched): self = .responded(status: status, bodyMatched: bodyMatched)
        case .failed(let error): self = .failed(error)
        }
    }

    init(_ outcome: TCPProbe.Outcome) {
        switch outcome {
        case .connected: self = .connected
        case .failed(let error): self = .failed(error)
        }
    }

    init(_ outcome: GRPCProbe.Outcome) {
        switch outcome {
        case .answered(let status): self = .servingStatus(status)
        case .failed(let error): self = .failed(error)
        }
    }
}
