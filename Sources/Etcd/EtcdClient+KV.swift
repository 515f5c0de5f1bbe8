import GRPCCore
import GRPCProtobuf

extension EtcdClient {
    /// Reads one key; `nil` when it does not exist.
    public func get(
        _ key: some EtcdBytesConvertible,
        options: RangeOptions = RangeOptions()
    ) async throws(EtcdError) -> KeyValue? {
        try await self.range(.key(key), options: options).kvs.first
    }

    /// Reads every key in `range` (e.g. `.prefix("/app/")`).
    public func range(
        _ range: KeyRange,
        options: RangeOptions = RangeOptions()
    ) async throws(EtcdError) -> RangeResponse {
        let read = try await self.range(range, options: options) { KeyValue($0) }
        return RangeResponse(header: read.header, kvs: read.entries, count: read.count, more: read.more)
    }

    /// Reads every key in `range`, handing each to `read` where the answer holds it (valid
    /// only during that call) and keeping what it answers: a listing of thousands need not be
    /// copied key by key before it is reduced.
    public func range<Entry: Sendable>(
        _ range: KeyRange,
        options: RangeOptions = RangeOptions(),
        reading read: @escaping @Sendable (KeyValueView) -> Entry?
    ) async throws(EtcdError) -> RangeEntries<Entry> {
        let request = Etcdserverpb_RangeRequest(range, options: options)
        return try await self.withFailover("range", kind: .read) { connection, metadata, callOptions in
            // Read off the wire by RangeDeserializer, not through the generated message.
            try await connection.channel.grpcClient.unary(
                request: ClientRequest(message: request, metadata: metadata),
                descriptor: Etcdserverpb_KV.Method.Range.descriptor,
                serializer: ProtobufSerializer<Etcdserverpb_RangeRequest>(),
                deserializer: RangeDeserializer(read: read),
                options: callOptions
            ) { response in try response.message }
        }
    }

    /// Writes `value` at `key`.
    ///
    /// - Parameters:
    ///   - lease: attach the key to this lease (it is deleted when the lease ends); 0 for none.
    ///   - prevKV: return the key's previous state.
    @discardableResult
    public func put(
        _ key: some EtcdBytesConvertible,
        value: some EtcdBytesConvertible,
        lease: Int64 = 0,
        prevKV: Bool = false
    ) async throws(EtcdError) -> PutResponse {
        let request = Etcdserverpb_PutRequest(key: key.etcdBytes, value: value.etcdBytes, lease: lease, prevKV: prevKV)
        return try await self.withFailover("put", kind: .write) { connection, metadata, callOptions in
            PutResponse(try await connection.kv.put(request, metadata: metadata, options: callOptions))
        }
    }

    /// Deletes every key in `range`.
    @discardableResult
    public func delete(_ range: KeyRange, prevKV: Bool = false) async throws(EtcdError) -> DeleteResponse {
        let request = Etcdserverpb_DeleteRangeRequest(range, prevKV: prevKV)
        return try await self.withFailover("delete", kind: .write) { connection, metadata, callOptions in
            DeleteResponse(try await connection.kv.deleteRange(request, metadata: metadata, options: callOptions))
        }
    }

    /// Deletes one key.
    @discardableResult
    public func delete(_ key: some EtcdBytesConvertible, prevKV: Bool = false) async throws(EtcdError) -> DeleteResponse {
        try await self.delete(.key(key), prevKV: prevKV)
    }
}
