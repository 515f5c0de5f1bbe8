import FoundationEssentials

/// A condition of a transaction, checked against one key's current state (or, for a version,
/// every key of a range).
///
/// ```swift
/// try await client.txn(
///     if: [.version("/lock", .equal, 0)],        // the key does not exist
///     then: [.put("/lock", "me", lease: lease)],
///     else: [.get("/lock")]
/// )
/// ```
public struct Compare: Sendable, Hashable {
    /// How the key's field is compared with the given value.
    public enum Operator: Sendable, Hashable {
        case equal, notEqual, greater, less
    }

    enum Target: Sendable, Hashable {
        case value([UInt8])
        case version(Int64)
        case createRevision(Int64)
        case modRevision(Int64)
        case lease(Int64)
    }

    var key: [UInt8]
    /// With a range end, the condition holds when it holds for every key in the range (and,
    /// for an empty range, for a key that does not exist).
    var rangeEnd: [UInt8] = []
    var op: Operator
    var target: Target

    /// Compares the key's value (bytes).
    public static func value(_ key: some EtcdBytesConvertible, _ op: Operator, _ value: some EtcdBytesConvertible) -> Self {
        Self(key: key.etcdBytes, op: op, target: .value(value.etcdBytes))
    }

    /// Compares the key's version; `.version(key, .equal, 0)` means "the key does not exist".
    public static func version(_ key: some EtcdBytesConvertible, _ op: Operator, _ version: Int64) -> Self {
        Self(key: key.etcdBytes, op: op, target: .version(version))
    }

    /// Compares the version of every key in `range`; `.version(.prefix(p), .equal, 0)` means
    /// "no key starts with p".
    public static func version(_ range: KeyRange, _ op: Operator, _ version: Int64) -> Self {
        Self(key: range.key, rangeEnd: range.rangeEnd, op: op, target: .version(version))
    }

    /// Compares the key's creation revision (0 when it does not exist).
    public static func createRevision(_ key: some EtcdBytesConvertible, _ op: Operator, _ revision: Int64) -> Self {
        Self(key: key.etcdBytes, op: op, target: .createRevision(revision))
    }

    /// Compares the key's last modification revision.
    public static func modRevision(_ key: some EtcdBytesConvertible, _ op: Operator, _ revision: Int64) -> Self {
        Self(key: key.etcdBytes, op: op, target: .modRevision(revision))
    }

    /// Compares the lease the key is attached to (0 for none).
    public static func lease(_ key: some EtcdBytesConvertible, _ op: Operator, _ lease: Int64) -> Self {
        Self(key: key.etcdBytes, op: op, target: .lease(lease))
    }
}

/// One operation inside a transaction.
public struct TxnOperation: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case get(KeyRange, RangeOptions)
        case put(key: [UInt8], value: [UInt8], lease: Int64, prevKV: Bool)
        case delete(KeyRange, prevKV: Bool)
    }

    var kind: Kind

    /// Reads a range (use `KeyRange.key(_:)` for one key).
    public static func get(_ range: KeyRange, options: RangeOptions = RangeOptions()) -> Self {
        Self(kind: .get(range, options))
    }

    /// Reads one key.
    public static func get(_ key: some EtcdBytesConvertible) -> Self {
        Self(kind: .get(.key(key), RangeOptions()))
    }

    /// Writes a key, optionally attached to a lease.
    public static func put(
        _ key: some EtcdBytesConvertible,
        _ value: some EtcdBytesConvertible,
        lease: Int64 = 0,
        prevKV: Bool = false
    ) -> Self {
        Self(kind: .put(key: key.etcdBytes, value: value.etcdBytes, lease: lease, prevKV: prevKV))
    }

    /// Deletes a range (use `KeyRange.key(_:)` for one key).
    public static func delete(_ range: KeyRange, prevKV: Bool = false) -> Self {
        Self(kind: .delete(range, prevKV: prevKV))
    }

    /// Deletes one key.
    public static func delete(_ key: some EtcdBytesConvertible, prevKV: Bool = false) -> Self {
        Self(kind: .delete(.key(key), prevKV: prevKV))
    }
}

/// The result of one transaction operation, in the order the operations were given.
public enum TxnOperationResponse: Sendable, Hashable {
    case get(RangeResponse)
    case put(PutResponse)
    case delete(DeleteResponse)
}

/// The result of a transaction.
public struct TxnResponse: Sendable, Hashable {
    public var header: ResponseHeader
    /// Whether every comparison held (the `then` branch ran) or not (the `else` branch ran).
    public var succeeded: Bool
    /// Results of the operations of the branch that ran.
    public var responses: [TxnOperationResponse]
}

extension EtcdClient {
    /// Runs a transaction: if every comparison in `conditions` holds, `success` is applied,
    /// otherwise `failure` — atomically, as one revision.
    public func txn(
        if conditions: [Compare],
        then success: [TxnOperation],
        else failure: [TxnOperation] = []
    ) async throws(EtcdError) -> TxnResponse {
        var request = Etcdserverpb_TxnRequest()
        request.compare = conditions.map(Etcdserverpb_Compare.init)
        request.success = success.map(Etcdserverpb_RequestOp.init)
        request.failure = failure.map(Etcdserverpb_RequestOp.init)
        let message = request
        return try await self.withFailover("txn", kind: .write) { connection, metadata, callOptions in
            TxnResponse(try await connection.kv.txn(message, metadata: metadata, options: callOptions))
        }
    }
}

extension Etcdserverpb_Compare {
    init(_ compare: Compare) {
        self.init()
        self.key = Data(compare.key)
        self.rangeEnd = Data(compare.rangeEnd)
        switch compare.op {
        case .equal: self.result = .equal
        case .notEqual: self.result = .notEqual
        case .greater: self.result = .greater
        case .less: self.result = .less
        }
        switch compare.target {
        case .value(let value):
            self.target = .value
            self.value = Data(value)
        case .version(let version):
            self.target = .version
            self.version = version
        case .createRevision(let revision):
            self.target = .create
            self.createRevision = revision
        case .modRevision(let revision):
            self.target = .mod
            self.modRevision = revision
        case .lease(let lease):
            self.target = .lease
            self.lease = lease
        }
    }
}

extension Etcdserverpb_RequestOp {
    init(_ operation: TxnOperation) {
        self.init()
        switch operation.kind {
        case .get(let range, let options):
            self.requestRange = Etcdserverpb_RangeRequest(range, options: options)
        case .put(let key, let value, let lease, let prevKV):
            self.requestPut = Etcdserverpb_PutRequest(key: key, value: value, lease: lease, prevKV: prevKV)
        case .delete(let range, let prevKV):
            self.requestDeleteRange = Etcdserverpb_DeleteRangeRequest(range, prevKV: prevKV)
        }
    }
}

extension TxnResponse {
    init(_ proto: Etcdserverpb_TxnResponse) {
        self.init(
            header: ResponseHeader(proto.header),
            succeeded: proto.succeeded,
            responses: proto.responses.compactMap { operation in
                switch operation.response {
                case .responseRange(let range): .get(RangeResponse(range))
                case .responsePut(let put): .put(PutResponse(put))
                case .responseDeleteRange(let delete): .delete(DeleteResponse(delete))
                // Nested transactions are never sent by this client.
                case .responseTxn, nil: nil
                }
            }
        )
    }
}
