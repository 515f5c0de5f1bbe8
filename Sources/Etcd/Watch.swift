import FoundationEssentials
import GRPCCore

extension EtcdClient {
    /// Watches a key or range and hands the batches of changes to `body`.
    ///
    /// ```swift
    /// try await client.watch(.prefix("/app/"), options: .init(startRevision: listed.header.revision + 1)) { batches in
    ///     for try await batch in batches {
    ///         for event in batch.events { print(event.kind, event.kv.keyString, event.revision) }
    ///     }
    /// }
    /// ```
    ///
    /// When the member serving the watch fails, the watch is reopened — on another member if
    /// needed — from the revision after the last one delivered, so no event is lost or
    /// repeated. It keeps trying until `body` returns or the task is cancelled; the watch ends
    /// when `body` returns.
    public func watch<Result: Sendable>(
        _ range: KeyRange,
        options: WatchOptions = WatchOptions(),
        isolation: isolated (any Actor)? = #isolation,
        _ body: (WatchBatches) async throws -> Result
    ) async throws -> Result {
        let (stream, continuation) = AsyncThrowingStream<WatchBatch, any Error>.makeStream()
        return try await withThrowingTaskGroup(of: Void.self, returning: Result.self, isolation: isolation) { group in
            group.addTask {
                do {
                    try await self.runWatch(range, options: options, into: continuation)
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            defer { group.cancelAll() }
            return try await body(WatchBatches(stream: stream))
        }
    }

    /// Opens the watch stream again and again (fail-over), feeding `continuation`, until
    /// cancelled or a non-retryable error.
    private func runWatch(
        _ range: KeyRange,
        options: WatchOptions,
        into continuation: AsyncThrowingStream<WatchBatch, any Error>.Continuation
    ) async throws {
        // The first revision not delivered yet. "From now" is pinned to a revision up front so
        // that a reconnect before etcd confirmed the first watch cannot open a gap.
        var startRevision = options.startRevision
        if startRevision == 0 {
            startRevision = try await self.range(range, options: RangeOptions(countOnly: true)).header.revision + 1
        }
        let nextRevision = LockedValue(startRevision)
        try await self.runStreamWithFailover { connection, metadata, delivered in
            let heardFromMember = LockedValue(false)
            let create = Self.watchCreateRequest(range, options: options, from: nextRevision.value)
            try await connection.watch.watch(metadata: metadata) { writer in
                try await writer.write(create)
                // A quiet watch and a stuck member (stopped, partitioned) look alike. Ask
                // for progress regularly; a member that answers nothing for a whole interval
                // is left for another. (The loop ends when the response side ends and gRPC
                // cancels it; returning early would half-close the stream.)
                while true {
                    try await Task.sleep(for: Self.watchLivenessInterval)
                    let heard = heardFromMember.withLock { heard in
                        defer { heard = false }
                        return heard
                    }
                    guard heard else {
                        throw EtcdError(
                            code: .unavailable,
                            message: "member stopped answering on the watch stream",
                            endpoint: connection.url
                        )
                    }
                    try await writer.write(Self.watchProgressRequest)
                }
            } onResponse: { response in
                for try await message in response.messages {
                    heardFromMember.withLock { $0 = true }
                    try Self.checkNotCanceled(message, endpoint: connection.url)
                    if message.created {
                        delivered.withLock { $0 = true }
                        self.pool.recordSuccess(connection)
                        continue
                    }
                    // After a reconnect etcd starts at the revision asked for; anything
                    // older was delivered before and is dropped.
                    let floor = nextRevision.value
                    let events = message.events.filter { $0.kv.modRevision >= floor }.map(WatchEvent.init)
                    if let last = events.last {
                        nextRevision.withLock { $0 = last.revision + 1 }
                        continuation.yield(WatchBatch(header: ResponseHeader(message.header), events: events))
                    } else if message.events.isEmpty, options.progressNotify {
                        // Progress notification. The resume point stays at the last
                        // event: etcd before 3.4.26 could send progress ahead of
                        // pending events.
                        continuation.yield(WatchBatch(header: ResponseHeader(message.header), events: []))
                    }
                }
                throw EtcdError(
                    code: .unavailable,
                    message: "watch stream closed by the member",
                    endpoint: connection.url
                )
            }
        }
    }

    /// How often a watch stream is checked for a member that stopped answering.
    static let watchLivenessInterval: Duration = .seconds(5)

    private static let watchProgressRequest: Etcdserverpb_WatchRequest = {
        var request = Etcdserverpb_WatchRequest()
        request.progressRequest = Etcdserverpb_WatchProgressRequest()
        return request
    }()

    private static func watchCreateRequest(
        _ range: KeyRange,
        options: WatchOptions,
        from revision: Int64
    ) -> Etcdserverpb_WatchRequest {
        var create = Etcdserverpb_WatchCreateRequest()
        create.key = Data(range.key)
        create.rangeEnd = Data(range.rangeEnd)
        create.startRevision = revision
        create.prevKv = options.prevKV
        create.progressNotify = options.progressNotify
        var request = Etcdserverpb_WatchRequest()
        request.createRequest = create
        return request
    }

    /// etcd ends a watch it will not serve with `canceled`: compaction carries the compact
    /// revision, anything else (permission, auth) a reason text.
    private static func checkNotCanceled(_ message: Etcdserverpb_WatchResponse, endpoint: String) throws {
        guard message.canceled else { return }
        if message.compactRevision > 0 {
            throw EtcdError(
                code: .compacted,
                message: "watch start revision has been compacted; oldest available is \(message.compactRevision)",
                endpoint: endpoint,
                compactRevision: message.compactRevision
            )
        }
        let reason = message.cancelReason.isEmpty ? "watch canceled by etcd" : message.cancelReason
        let mapped = EtcdError(mapping: RPCError(code: .unknown, message: reason), endpoint: endpoint)
        // Keep the RPCError as cause so an auth-token rejection is recognised and refreshed.
        throw mapped.code == .internalError
            ? EtcdError(code: .unavailable, message: reason, endpoint: endpoint, cause: mapped.cause) : mapped
    }
}
