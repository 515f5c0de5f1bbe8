import GRPCCore
import Racing

extension EtcdClient {
    /// Keeps a lease alive until the calling task is cancelled.
    ///
    /// Renewals go over one bidirectional stream, every third of the lease's TTL. When the
    /// member in use fails, the stream is reopened on another one. It never returns normally:
    ///
    /// - Throws: `CancellationError` when the task is cancelled; ``EtcdError`` with
    ///   ``EtcdError/Code-swift.struct/leaseNotFound`` as soon as etcd reports the lease gone
    ///   (expired or revoked — a renewal answered with TTL ≤ 0), or with
    ///   ``EtcdError/Code-swift.struct/unavailable`` when no member could be reached before
    ///   the lease's TTL ran out. Either way the lease must be considered lost.
    /// - Parameters:
    ///   - grantedTTL: the TTL the lease was granted with, if known. Until the first renewal
    ///     answers, it is what tells when the lease is lost: without it, a member that dies before
    ///     the first renewal leaves the keep-alive retrying until cancelled.
    ///   - onRenewal: called after every successful renewal.
    public func keepAlive(
        _ leaseID: Int64,
        grantedTTL: Duration? = nil,
        onRenewal: @escaping @Sendable (LeaseKeepAliveResponse) -> Void = { _ in }
    ) async throws -> Never {
        let clock = ContinuousClock()
        // Written by the response handler, read by the request producer and the retry loop.
        let progress = LockedValue<(ttl: Int64?, expiry: ContinuousClock.Instant?)>(
            (grantedTTL.map { $0.components.seconds }, grantedTTL.map { clock.now.advanced(by: $0) })
        )
        try await self.runStreamWithFailover { connection, metadata, answered in
            let awaitingAnswer = LockedValue(false)
            try await connection.lease.leaseKeepAlive(metadata: metadata) { writer in
                var request = Etcdserverpb_LeaseKeepAliveRequest()
                request.id = leaseID
                while true {
                    awaitingAnswer.withLock { $0 = true }
                    try await writer.write(request)
                    try await Task.sleep(for: Self.renewalInterval(ttl: progress.value.ttl))
                    // A member that takes a whole interval to answer is stuck (stopped,
                    // partitioned): move on rather than let the lease run out.
                    if awaitingAnswer.value {
                        throw EtcdError.silence("member stopped answering keep-alives", endpoint: connection.url)
                    }
                }
            } onResponse: { response in
                for try await message in response.messages {
                    guard message.ttl > 0 else {
                        throw EtcdError(
                            code: .leaseNotFound,
                            message: "lease \(leaseID) expired or was revoked",
                            endpoint: connection.url
                        )
                    }
                    progress.withLock { $0 = (message.ttl, clock.now.advanced(by: .seconds(message.ttl))) }
                    answered.withLock { $0 = true }
                    awaitingAnswer.withLock { $0 = false }
                    self.pool.recordSuccess(connection)
                    onRenewal(
                        LeaseKeepAliveResponse(header: ResponseHeader(message.header), id: message.id, ttl: message.ttl)
                    )
                }
                throw EtcdError(
                    code: .unavailable,
                    message: "keep-alive stream closed by the member",
                    endpoint: connection.url
                )
            }
        } afterFailure: { error, connection in
            if let expiry = progress.value.expiry, clock.now > expiry {
                throw EtcdError(
                    code: .unavailable,
                    message: "lease \(leaseID) could not be renewed on any member before its TTL ran out",
                    endpoint: connection.url,
                    cause: error
                )
            }
        }
    }

    /// Renews a lease once, as one message of a keep-alive stream: its TTL starts again from now.
    ///
    /// - Returns: the one successful renewal.
    /// - Throws: ``EtcdError`` with ``EtcdError/Code-swift.struct/leaseNotFound`` when the lease
    ///   has expired or was revoked.
    public func renewLease(_ leaseID: Int64) async throws(EtcdError) -> LeaseKeepAliveResponse {
        var request = Etcdserverpb_LeaseKeepAliveRequest()
        request.id = leaseID
        let message = request
        // Renewing twice does what renewing once does: repeated like a read.
        let response = try await self.withFailover("lease renewal", kind: .read) { connection, metadata, callOptions in
            try await connection.lease.leaseKeepAlive(metadata: metadata, options: callOptions) { writer in
                try await writer.write(message)
            } onResponse: { response in
                for try await answer in response.messages { return answer }
                throw EtcdError(code: .unavailable, message: "keep-alive stream closed before an answer", endpoint: connection.url)
            }
        }
        guard response.ttl > 0 else {
            throw EtcdError(code: .leaseNotFound, message: "lease \(leaseID) expired or was revoked")
        }
        return LeaseKeepAliveResponse(header: ResponseHeader(response.header), id: response.id, ttl: response.ttl)
    }

    /// Runs `body` while keeping `leaseID` alive; if the lease is lost, `body` is cancelled and
    /// the keep-alive's error thrown.
    public func withLeaseKeepAlive<Result: Sendable>(
        _ leaseID: Int64,
        _ body: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        // The keep-alive only ever ends by throwing, so a decision is body's result.
        let result = try await race(
            { () async throws -> Result? in try await self.keepAlive(leaseID) },
            { try await body() }
        )
        guard let result else { throw CancellationError() }
        return result
    }

    /// A third of the TTL (what etcd's own client does), at least 250 ms; 1 s until the first
    /// response tells the TTL.
    static func renewalInterval(ttl: Int64?) -> Duration {
        guard let ttl, ttl > 0 else { return .seconds(1) }
        return max(.milliseconds(ttl * 1000 / 3), .milliseconds(250))
    }
}
