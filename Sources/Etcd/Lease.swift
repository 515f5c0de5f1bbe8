/// A granted lease.
public struct LeaseGrant: Sendable, Hashable {
    public var header: ResponseHeader
    /// The lease's ID, to attach keys (`put(_:value:lease:)`) and keep it alive.
    public var id: Int64
    /// The TTL etcd granted, in seconds (it may raise very small requests to its minimum).
    public var ttl: Int64
}

/// What etcd knows about a lease.
public struct LeaseTimeToLive: Sendable, Hashable {
    public var header: ResponseHeader
    public var id: Int64
    /// Seconds left; -1 when the lease does not exist (expired or revoked).
    public var ttl: Int64
    /// The TTL the lease was granted with, in seconds.
    public var grantedTTL: Int64
    /// Keys attached to the lease, when asked for.
    public var keys: [[UInt8]]
}

/// One successful renewal from a keep-alive stream.
public struct LeaseKeepAliveResponse: Sendable, Hashable {
    public var header: ResponseHeader
    public var id: Int64
    /// The lease's TTL after this renewal, in seconds.
    public var ttl: Int64
}

extension EtcdClient {
    /// Grants a lease that expires `ttl` seconds after its last renewal.
    ///
    /// - Parameter id: a chosen ID, or 0 to let etcd pick one.
    public func grantLease(ttl: Int64, id: Int64 = 0) async throws(EtcdError) -> LeaseGrant {
        var request = Etcdserverpb_LeaseGrantRequest()
        request.ttl = ttl
        request.id = id
        let message = request
        let response = try await self.withFailover("lease grant", kind: .write) { connection, metadata, callOptions in
            try await connection.lease.leaseGrant(message, metadata: metadata, options: callOptions)
        }
        guard response.error.isEmpty else {
            throw EtcdError(code: .invalidArgument, message: "lease grant failed: \(response.error)")
        }
        return LeaseGrant(header: ResponseHeader(response.header), id: response.id, ttl: response.ttl)
    }

    /// Revokes a lease, deleting every key attached to it.
    ///
    /// - Throws: ``EtcdError`` with ``EtcdError/Code-swift.struct/leaseNotFound`` when it no
    ///   longer exists.
    @discardableResult
    public func revokeLease(_ id: Int64) async throws(EtcdError) -> ResponseHeader {
        var request = Etcdserverpb_LeaseRevokeRequest()
        request.id = id
        let message = request
        let response = try await self.withFailover("lease revoke", kind: .write) { connection, metadata, callOptions in
            try await connection.lease.leaseRevoke(message, metadata: metadata, options: callOptions)
        }
        return ResponseHeader(response.header)
    }

    /// Asks how long a lease has left (`ttl` is -1 when it is gone), optionally with its keys.
    public func leaseTimeToLive(_ id: Int64, keys: Bool = false) async throws(EtcdError) -> LeaseTimeToLive {
        var request = Etcdserverpb_LeaseTimeToLiveRequest()
        request.id = id
        request.keys = keys
        let message = request
        let response = try await self.withFailover("lease time-to-live", kind: .read) { connection, metadata, callOptions in
            try await connection.lease.leaseTimeToLive(message, metadata: metadata, options: callOptions)
        }
        return LeaseTimeToLive(
            header: ResponseHeader(response.header),
            id: response.id,
            ttl: response.ttl,
            grantedTTL: response.grantedTtl,
            keys: response.keys.map { Array($0) }
        )
    }
}
