/// An error from the etcd client: what went wrong (``code``), a human-readable ``message``, the
/// endpoint that produced it (when one did) and the underlying ``cause``.
///
/// Modelled on grpc-swift's `RPCError`: match on ``code`` rather than on the message, which is
/// meant for people.
///
/// ```swift
/// do {
///     try await client.put("/a", value: "1")
/// } catch let error as EtcdError where error.code == .permissionDenied {
///     // the user may not write here
/// }
/// ```
public struct EtcdError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case unavailable
            case deadlineExceeded
            case permissionDenied
            case authenticationFailed
            case compacted
            case leaseNotFound
            case invalidArgument
            case futureRevision
            case tlsFailure
            case cancelled
            case invalidConfiguration
            case noSpace
            case internalError
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        public var description: String { self.wrapped.rawValue }

        /// No endpoint could serve the request within its timeout (members down, no leader,
        /// connection refused, ...). Retrying later may succeed.
        public static let unavailable = Self(.unavailable)
        /// etcd itself reported that the request's deadline passed. (When the client's own
        /// request timeout runs out the error is ``unavailable``, with this as its cause.)
        public static let deadlineExceeded = Self(.deadlineExceeded)
        /// The authenticated user lacks the permission for this key or operation.
        public static let permissionDenied = Self(.permissionDenied)
        /// The user name or password was rejected, or no valid token could be obtained.
        public static let authenticationFailed = Self(.authenticationFailed)
        /// The requested revision has been compacted away; ``EtcdError/compactRevision`` tells
        /// the oldest revision still available. Re-list and watch again from there.
        public static let compacted = Self(.compacted)
        /// The lease does not exist: never granted, revoked, or expired.
        public static let leaseNotFound = Self(.leaseNotFound)
        /// etcd rejected the request as malformed (empty key, too many operations, ...).
        public static let invalidArgument = Self(.invalidArgument)
        /// The requested revision is newer than the store's current revision.
        public static let futureRevision = Self(.futureRevision)
        /// The TLS handshake failed (untrusted server certificate, rejected client certificate).
        /// Retrying does not help; the configuration must change.
        public static let tlsFailure = Self(.tlsFailure)
        /// The operation was cancelled by the caller.
        public static let cancelled = Self(.cancelled)
        /// The client configuration is unusable (bad endpoint URL, unreadable TLS files, ...).
        public static let invalidConfiguration = Self(.invalidConfiguration)
        /// etcd's database reached its quota (`--quota-backend-bytes`) and its NOSPACE alarm is
        /// raised: it refuses puts, transactions that write and lease grants until an operator
        /// compacts, defragments and disarms it. Reads, deletes and keep-alives still work.
        public static let noSpace = Self(.noSpace)
        /// Anything else etcd or the transport reported.
        public static let internalError = Self(.internalError)
    }

    /// What kind of failure this is.
    public var code: Code
    /// A human-readable explanation.
    public var message: String
    /// The endpoint (URL) involved, when there was one.
    public var endpoint: String?
    /// For ``Code/compacted``: the compaction revision reported by etcd (0 when unknown).
    public var compactRevision: Int64
    /// The underlying error (usually a gRPC `RPCError`), if any.
    public var cause: (any Error)?

    public init(
        code: Code,
        message: String,
        endpoint: String? = nil,
        compactRevision: Int64 = 0,
        cause: (any Error)? = nil
    ) {
        self.code = code
        self.message = message
        self.endpoint = endpoint
        self.compactRevision = compactRevision
        self.cause = cause
    }

    public var description: String {
        var text = "\(self.code): \(self.message)"
        if let endpoint = self.endpoint { text += " (endpoint \(endpoint))" }
        if let cause = self.cause { text += " (cause: \(cause))" }
        return text
    }
}
