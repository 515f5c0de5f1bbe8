import GRPCCore
import Racing

/// The fail-over bookkeeping shared by the long-lived streams (watch, lease keep-alive): which
/// errors move the stream to another member, when to pause between rounds, when to refresh the
/// auth token.
struct StreamRetry {
    private let memberCount: Int
    private var failuresThisRound = 0
    private var refreshedToken = false

    init(memberCount: Int) {
        self.memberCount = memberCount
    }

    /// Call when the stream delivered something: the member works and the token is good.
    mutating func streamWorked() {
        self.failuresThisRound = 0
        self.refreshedToken = false
    }

    /// Decides what to do after the stream on `connection` failed with `error`. Returns when
    /// the caller should open the stream again; throws when it should give up.
    mutating func handle(
        _ error: any Error,
        on connection: EndpointConnection,
        channel: EndpointConnection.Channel,
        client: EtcdClient
    ) async throws {
        if Task.isCancelled { throw CancellationError() }
        // A CancellationError while we are not cancelled comes from inside the RPC (the request
        // writer is cancelled when the stream breaks): a broken stream, not the caller's stop.
        let mapped = error is CancellationError
            ? EtcdError(code: .unavailable, message: "stream ended", endpoint: connection.url, cause: error)
            : EtcdError(mapping: error, endpoint: connection.url)
        if mapped.isSilence { connection.reconnect(after: channel) }
        switch mapped.disposition {
        case .refreshToken where !self.refreshedToken:
            self.refreshedToken = true
            client.auth.invalidate()
        case .tryAnotherEndpoint:
            client.pool.recordFailure(connection, error: mapped)
            self.failuresThisRound += 1
            if self.failuresThisRound >= self.memberCount {
                // Every member failed in a row: pause briefly (restart, election in progress)
                // instead of spinning.
                self.failuresThisRound = 0
                try await Task.sleep(for: .milliseconds(200))
            }
        case _ where mapped.code == .deadlineExceeded:
            // Only the dial budget ran out (stream start-up); another member may do better.
            client.pool.recordFailure(connection, error: mapped)
        default:
            throw mapped
        }
    }
}

extension EtcdClient {
    /// Call options for the set-up steps of a stream (authentication): bounded by the dial
    /// timeout, unlike the stream itself, which lives until cancelled.
    var streamSetupOptions: CallOptions {
        var options = CallOptions.defaults
        options.timeout = self.configuration.dialTimeout
        return options
    }

    /// Metadata for a long-lived stream: the auth token plus `hasleader`, which makes the
    /// member end the stream when it loses the leader so the client moves to one that has it
    /// (etcd's own client does the same).
    func streamMetadata(for connection: EndpointConnection) async throws -> Metadata {
        var metadata = try await self.auth.metadata(for: connection, options: self.streamSetupOptions)
        metadata.addString("true", forKey: "hasleader")
        return metadata
    }
}

extension EtcdClient {
    /// Opens a long-lived stream (watch, lease keep-alive) again and again, moving to another
    /// member when one fails, until an error that is not retried ends it.
    ///
    /// Each attempt is given the member's connection, the stream's metadata and a flag to set
    /// once the member has answered: an attempt without an answer within the dial timeout is
    /// failed, and only one that got an answer starts a new fail-over round. `afterFailure` runs
    /// after each failure that is retried and may throw to give up instead.
    func runStreamWithFailover(
        _ attempt: @escaping @Sendable (EndpointConnection, Metadata, LockedValue<Bool>) async throws -> Void,
        afterFailure: (any Error, EndpointConnection) throws -> Void = { _, _ in }
    ) async throws -> Never {
        var retry = StreamRetry(memberCount: self.pool.connections.count)
        while true {
            try Task.checkCancellation()
            let connection = self.pool.pinned
            let channel = connection.channel
            let answered = LockedValue(false)
            do {
                let metadata = try await self.streamMetadata(for: connection)
                try await self.withFirstAnswerDeadline(self.configuration.dialTimeout, answered: answered, endpoint: connection.url) {
                    try await attempt(connection, metadata, answered)
                }
            } catch {
                if answered.value { retry.streamWorked() }
                try await retry.handle(error, on: connection, channel: channel, client: self)
                try afterFailure(error, connection)
            }
        }
    }

    /// Runs one attempt of a long-lived stream, failing it when the member has not answered at
    /// all within `timeout` — a connection that hangs while being set up (a host gone dark
    /// drops packets instead of refusing) would otherwise block for the OS connect timeout.
    func withFirstAnswerDeadline(
        _ timeout: Duration,
        answered: LockedValue<Bool>,
        endpoint: String,
        _ stream: @escaping @Sendable () async throws -> Void
    ) async throws {
        _ = try await race(
            {
                try await stream()
                return ()
            },
            {
                try await Task.sleep(for: timeout)
                guard answered.value else {
                    throw EtcdError.silence("no answer within \(timeout) of opening the stream", endpoint: endpoint)
                }
                // Answered in time: the stream runs on until it ends (always an error for these
                // endless streams).
                return nil
            }
        )
    }
}
