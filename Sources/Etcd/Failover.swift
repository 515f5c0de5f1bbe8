import GRPCCore
import Racing

/// Whether a request may be repeated after a failure with an unknown outcome.
enum RequestKind {
    /// Reads: repeating is harmless.
    case read
    /// Changes: repeated only when the failed attempt certainly was not applied.
    case write
}

extension EtcdClient {
    /// Runs one unary request with the client's fail-over rules:
    ///
    /// - the pinned member is tried first; when it is unreachable or has no leader the pin
    ///   moves on and the next member is tried, round after round, with a short pause between
    ///   rounds, until `requestTimeout` has passed; then the request fails as `unavailable`;
    /// - a member that has not answered yet gets at most `dialTimeout` to do so;
    /// - a rejected auth token is refreshed once;
    /// - everything else fails at once.
    ///
    /// A write is only sent again when the failed attempt certainly did not reach etcd (no
    /// connection, no leader): repeating a put or a txn whose outcome is unknown could apply it
    /// twice or flip a compare. Such a write fails with `unavailable` and says so. So that a
    /// write is not wasted on a member that never answers, a member's first write is preceded
    /// by a cheap status probe.
    ///
    /// Errors are always ``EtcdError``.
    func withFailover<Response: Sendable>(
        _ operation: String,
        kind: RequestKind,
        _ call: @escaping @Sendable (EndpointConnection, Metadata, CallOptions) async throws -> Response
    ) async throws(EtcdError) -> Response {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: self.configuration.requestTimeout)
        var lastError: EtcdError?
        var refreshedToken = false
        var failuresThisRound = 0

        while true {
            guard clock.now < deadline else {
                throw Self.timedOut(operation, after: self.configuration.requestTimeout, lastError: lastError)
            }
            if Task.isCancelled {
                throw EtcdError(code: .cancelled, message: "\(operation) cancelled")
            }
            let connection = self.pool.pinned
            let channel = connection.channel
            // Until the write itself goes out, every step can be repeated elsewhere.
            var writeSent = false
            do {
                let metadata = try await self.within(self.setupTimeout(connection, deadline)) {
                    try await self.auth.metadata(for: connection, options: .defaults)
                }
                if kind == .write && !self.pool.hasAnswered(connection) {
                    try await self.within(self.setupTimeout(connection, deadline)) {
                        try await self.probe(connection, metadata: metadata)
                    }
                }
                let remaining = clock.now.duration(to: deadline)
                let timeout = self.attemptTimeout(kind: kind, connection: connection, remaining: remaining)
                writeSent = kind == .write
                let response = try await self.within(timeout) { try await call(connection, metadata, Self.requestOptions) }
                self.pool.recordSuccess(connection)
                return response
            } catch {
                let mapped = EtcdError(mapping: error, endpoint: connection.url)
                if mapped.isSilence { connection.reconnect(after: channel) }
                let repeatable = !writeSent || mapped.requestCertainlyNotApplied
                switch mapped.disposition {
                case .refreshToken where !refreshedToken:
                    refreshedToken = true
                    self.auth.invalidate()
                case .tryAnotherEndpoint where !repeatable:
                    self.pool.recordFailure(connection, error: mapped)
                    throw EtcdError(
                        code: .unavailable,
                        message: "\(operation) may or may not have been applied: \(mapped.message)",
                        endpoint: connection.url,
                        cause: mapped
                    )
                case .tryAnotherEndpoint:
                    lastError = mapped
                    self.pool.recordFailure(connection, error: mapped)
                    failuresThisRound += 1
                    if failuresThisRound >= self.pool.connections.count {
                        // Everyone failed: give members a moment (restart, election) before
                        // the next round instead of spinning.
                        failuresThisRound = 0
                        let pause = min(Duration.milliseconds(100), clock.now.duration(to: deadline))
                        if pause > .zero { try? await EventLoopClock.connections.sleep(for: pause) }
                    }
                case _ where mapped.code == .deadlineExceeded && repeatable && clock.now < deadline:
                    // Only this attempt's share ran out (silent member, election): try the next.
                    lastError = mapped
                    self.pool.recordFailure(connection, error: mapped)
                case _ where mapped.code == .deadlineExceeded:
                    // Whether nobody answered or a member without quorum sat on the request, the
                    // cluster could not serve it in time: unavailable, with the timeout as cause.
                    self.pool.recordFailure(connection, error: mapped)
                    // An attempt that nothing sent could have applied, cut short by the time left,
                    // says less than the attempt before it (a refusal, say): report that one.
                    let reported = repeatable ? (lastError ?? mapped) : mapped
                    var error = Self.timedOut(operation, after: self.configuration.requestTimeout, lastError: reported)
                    if !repeatable {
                        // e.g. a proposal forwarded to a leader that just died is lost silently.
                        error.message = "\(operation) may or may not have been applied: " + error.message
                    }
                    throw error
                default:
                    throw self.namingWhoWasRefused(mapped, operation: operation)
                }
            }
        }
    }

    /// etcd's "permission denied" and "user name is empty" name neither the user nor the request.
    private func namingWhoWasRefused(_ error: EtcdError, operation: String) -> EtcdError {
        var error = error
        if error.code == .permissionDenied {
            let user = self.auth.credentials.map { "user '\($0.user)'" } ?? "an anonymous client"
            error.message = "\(operation) refused: \(user) lacks the permission (\(error.message))"
        } else if error.code == .authenticationFailed, EtcdServerError(in: error) == .userNameEmpty {
            error.message = "etcd has authentication enabled and no user was given (\(error.message))"
        }
        return error
    }

    /// Asks a member that has not answered yet for its status, which any user may do: proof
    /// that it is reachable before a write that could not be repeated is sent there.
    private func probe(_ connection: EndpointConnection, metadata: Metadata) async throws {
        do {
            _ = try await connection.maintenance.status(Etcdserverpb_StatusRequest(), metadata: metadata)
        } catch let error as RPCError where error.code != .unavailable && error.code != .deadlineExceeded {
            // An answer, even a refusal, shows the member is there.
        }
        self.pool.recordSuccess(connection)
    }

    /// Options every request starts from. gRPC refuses an answer over 4 MiB by default, which the
    /// listing of ~15 000 records outgrows; like etcd's own client, accept up to 2 GiB. (The
    /// transport applies `maxRequestMessageBytes` to the messages a client receives, so both are set.)
    static let requestOptions: CallOptions = {
        var options = CallOptions.defaults
        options.maxRequestMessageBytes = Int(Int32.max)
        options.maxResponseMessageBytes = Int(Int32.max)
        return options
    }()

    /// How long each step before the request itself (authentication, probe) may take: a member
    /// that has not answered yet gets at most `dialTimeout`.
    private func setupTimeout(_ connection: EndpointConnection, _ deadline: ContinuousClock.Instant) -> Duration {
        let remaining = ContinuousClock.now.duration(to: deadline)
        return self.pool.hasAnswered(connection) ? remaining : min(remaining, self.configuration.dialTimeout)
    }

    /// Runs one step of an attempt and gives it up after `timeout` with the error gRPC's own
    /// deadline throws, so it is judged as before. Timed on the connections' event loop
    /// (``EventLoopClock``), not with gRPC's `CallOptions.timeout`, whose sleep starts two
    /// libdispatch threads; given up, the step's task is cancelled and gRPC resets its stream,
    /// which etcd hears of as it would of a passed deadline.
    private func within<Result: Sendable>(
        _ timeout: Duration,
        _ step: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        switch try await withTimeLimit(timeout, clock: EventLoopClock.connections, step) {
        case .finished(let result): return result
        case .timedOut: throw RPCError(code: .deadlineExceeded, message: "RPC timed out before completing")
        }
    }

    /// How long one attempt at one member may take. A write gets everything left: once sent,
    /// it cannot be repeated elsewhere. A read moves on early so that a member stuck without a
    /// leader (its leader just died, or it is cut off in a minority) costs only part of the
    /// budget: half the request timeout, and no more than `dialTimeout` for a member that has
    /// not answered yet — a fresh process's first read on a minority member must leave time
    /// for the next member, or `hosts` fails where the majority would have answered.
    private func attemptTimeout(kind: RequestKind, connection: EndpointConnection, remaining: Duration) -> Duration {
        guard kind == .read, self.pool.connections.count > 1 else { return remaining }
        let half = max(self.configuration.requestTimeout / 2, .seconds(1))
        let share = self.pool.hasAnswered(connection) ? half : min(half, self.configuration.dialTimeout)
        return min(remaining, share)
    }

    private static func timedOut(_ operation: String, after timeout: Duration, lastError: EtcdError?) -> EtcdError {
        EtcdError(
            code: .unavailable,
            message: "\(operation): no etcd endpoint could serve the request within \(timeout)"
                + (lastError.map { " (last error: \($0.code): \($0.message))" } ?? ""),
            endpoint: lastError?.endpoint,
            cause: lastError
        )
    }
}
