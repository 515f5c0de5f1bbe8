import Posix
import GRPCCore
import NIOCore
import NIOSSL

#if canImport(Glibc)
import Glibc
#endif

/// How the fail-over loop should react to an error.
enum ErrorDisposition: Equatable {
    /// Give up and report the error to the caller.
    case fail
    /// This member cannot serve the request now; another (or this one later) might.
    case tryAnotherEndpoint
    /// The auth token was rejected; authenticate again and retry once.
    case refreshToken
}

/// The errors etcd's server defines (its `rpctypes` package). gRPC codes alone are ambiguous
/// (InvalidArgument is a bad password, an empty user name or a stale token), so etcd's own
/// client tells them apart by the status message; this is the one place that reads that text,
/// and `EtcdServerErrorTests` pin every case against a real etcd. Decisions switch on the case.
enum EtcdServerError: CaseIterable {
    case leaseNotFound
    case permissionDenied
    case invalidAuthToken
    case authOldRevision
    case userNameEmpty
    case authFailed
    case authNotEnabled
    case compacted
    case futureRevision
    case notLeader
    case noLeader
    case notCapable
    case noSpace

    /// The gRPC code and the message etcd sends (`etcdserver: ` and, for the mvcc ones,
    /// `mvcc: ` precede it).
    private var status: (code: RPCError.Code, message: String) {
        switch self {
        case .leaseNotFound: (.notFound, "requested lease not found")
        case .permissionDenied: (.permissionDenied, "permission denied")
        case .invalidAuthToken: (.unauthenticated, "invalid auth token")
        case .authOldRevision: (.invalidArgument, "revision of auth store is old")
        case .userNameEmpty: (.invalidArgument, "user name is empty")
        case .authFailed: (.invalidArgument, "authentication failed")
        case .authNotEnabled: (.failedPrecondition, "authentication is not enabled")
        case .compacted: (.outOfRange, "required revision has been compacted")
        case .futureRevision: (.outOfRange, "required revision is a future revision")
        case .notLeader: (.failedPrecondition, "etcdserver: not leader")
        case .noLeader: (.unavailable, "etcdserver: no leader")
        case .notCapable: (.unavailable, "etcdserver: not capable")
        case .noSpace: (.resourceExhausted, "etcdserver: mvcc: database space exceeded")
        }
    }

    init?(_ error: RPCError) {
        guard let match = Self.allCases.first(where: { $0.status.code == error.code && error.message.contains($0.status.message) }) else {
            return nil
        }
        self = match
    }

    /// The etcd error in `error` or among its causes.
    init?(in error: any Error) {
        guard let match = EtcdError.causes(of: error).lazy.compactMap({ ($0 as? RPCError).flatMap(Self.init) }).first else {
            return nil
        }
        self = match
    }
}

/// The cause of an ``EtcdError/silence(_:endpoint:)``.
struct MemberSilence: Error {}

/// grpc-swift failing an RPC before its stream exists: no connection, a connect or TLS failure,
/// a stream that could not be opened. grpc-swift says so only in the message of an
/// `RPCError(code: .unavailable)`; `EtcdServerErrorTests` pins the one a refused connection gives.
enum GRPCStreamNeverOpened {
    static let messages = [
        "transient failure state", "no subchannel available", "Failed to resolve", "Subchannel shutdown",
        "subchannel isn't ready", "subchannel is unavailable", "Could not establish a connection",
        "closed the connection before completing the HTTP/2 connection preface",
    ]

    static func matches(_ error: RPCError) -> Bool {
        error.code == .unavailable && messages.contains { error.message.contains($0) }
    }
}

extension EtcdError {
    /// Translates anything thrown by a gRPC call into an `EtcdError`, keeping the original as
    /// `cause`.
    init(mapping error: any Error, endpoint: String?) {
        if let etcdError = error as? EtcdError {
            self = etcdError
            if self.endpoint == nil { self.endpoint = endpoint }
            return
        }
        if error is CancellationError {
            self.init(code: .cancelled, message: "cancelled", endpoint: endpoint, cause: error)
            return
        }
        if let tlsError = Self.tlsError(in: error) {
            // gRPC's own message talks about the HTTP/2 preface; the TLS error says what is wrong.
            self.init(code: .tlsFailure, message: "TLS handshake failed: \(Self.explain(tlsError))", endpoint: endpoint, cause: error)
            return
        }
        guard let rpcError = error as? RPCError else {
            self.init(code: .internalError, message: "\(error)", endpoint: endpoint, cause: error)
            return
        }
        let code: Code
        switch (EtcdServerError(rpcError), rpcError.code) {
        case (.leaseNotFound, _): code = .leaseNotFound
        case (.permissionDenied, _): code = .permissionDenied
        case (.authFailed, _), (.invalidAuthToken, _), (.userNameEmpty, _): code = .authenticationFailed
        case (.compacted, _): code = .compacted
        case (.futureRevision, _): code = .futureRevision
        case (.noSpace, _):
            // Every member refuses it alike (the alarm is cluster-wide): no fail-over, and the
            // message names the alarm the operator must clear.
            self.init(
                code: .noSpace, message: "etcd is out of space (NOSPACE alarm: \(rpcError.message))", endpoint: endpoint, cause: rpcError
            )
            return
        case (_, .unavailable): code = .unavailable
        case (_, .deadlineExceeded): code = .deadlineExceeded
        case (_, .permissionDenied): code = .permissionDenied
        case (_, .unauthenticated): code = .authenticationFailed
        case (_, .invalidArgument), (_, .outOfRange), (_, .failedPrecondition), (_, .alreadyExists): code = .invalidArgument
        case (_, .notFound): code = .leaseNotFound  // etcd only answers NotFound for leases
        case (_, .cancelled): code = .cancelled
        default: code = .internalError
        }
        if code == .unavailable, let failure = Self.causes(of: rpcError).lazy.compactMap({ $0 as? IOError }).first {
            // gRPC says "Channel is in a transient failure state…"; the socket error says why.
            self.init(code: code, message: "cannot connect: \(PosixError.reason(of: failure.errnoCode))", endpoint: endpoint, cause: rpcError)
            return
        }
        self.init(code: code, message: rpcError.message, endpoint: endpoint, cause: rpcError)
    }

    /// `error` and the causes under it, outermost first, through the wrappers gRPC and this
    /// client use.
    static func causes(of error: any Error) -> UnfoldFirstSequence<any Error> {
        sequence(first: error) { error in
            (error as? RPCError)?.cause ?? (error as? RuntimeError)?.cause ?? (error as? EtcdError)?.cause
        }
    }

    /// The TLS stack's error in `error` or among its causes.
    static func tlsError(in error: any Error) -> (any Error)? {
        causes(of: error).first { $0 is NIOSSLError || $0 is BoringSSLError || $0 is NIOSSLExtraError }
    }

    /// Whether the server closed the connection in the middle of the TLS handshake: a plain
    /// listener on a TLS port, or a member going down, rather than a certificate refused.
    public var connectionClosedDuringHandshake: Bool {
        Self.causes(of: self).contains { error in
            guard case .handshakeFailed(.sslError(let stack)) = error as? NIOSSLError else { return false }
            return stack.contains(.eofDuringHandshake)
        }
    }

    /// What a TLS failure means for the operator. BoringSSL names its reason only in the text
    /// (`…SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at /path/handshake.cc:320`),
    /// which is cut to the reason here for people; no decision depends on it.
    private static func explain(_ tlsError: any Error) -> String {
        if case .handshakeFailed(.sslError(let stack)) = tlsError as? NIOSSLError, stack.contains(.eofDuringHandshake) {
            return "the server closed the connection during the handshake: does it serve TLS on this port? (EOF during handshake)"
        }
        let detail = "\(tlsError)"
        var reason = detail
        if let marker = detail.firstRange(of: "OPENSSL_internal:") {
            reason = String(detail[marker.upperBound...].prefix { !$0.isWhitespace && $0 != "]" && $0 != ")" })
        }
        switch reason {
        case "CERTIFICATE_VERIFY_FAILED":
            return "the server's certificate is not issued by a trusted CA (\(reason))"
        case "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED", "TLSV1_ALERT_UNKNOWN_CA",
            "SSLV3_ALERT_CERTIFICATE_UNKNOWN", "SSLV3_ALERT_HANDSHAKE_FAILURE":
            return "the server refused the client certificate: none was given, or its CA is not trusted by the server (\(reason))"
        default:
            return reason
        }
    }

    /// How a request that failed with this error should proceed.
    var disposition: ErrorDisposition {
        switch EtcdServerError(in: self) {
        case .invalidAuthToken, .authOldRevision, .userNameEmpty:
            return .refreshToken
        case .notLeader:
            // A follower that has lost the leader answers "not leader" for some requests; the
            // next member can serve them.
            return .tryAnotherEndpoint
        default:
            return self.code == .unavailable ? .tryAnotherEndpoint : .fail
        }
    }

    /// The member gave no answer in time (this client's own deadline, or gRPC's): what a
    /// partition or a hung host looks like. Its connection is replaced before the next try.
    static func silence(_ message: String, endpoint: String) -> EtcdError {
        EtcdError(code: .unavailable, message: message, endpoint: endpoint, cause: MemberSilence())
    }

    /// Whether this failure was silence: a deadline that ran out, not a refusal or an answer.
    var isSilence: Bool {
        Self.causes(of: self).contains { error in
            error is MemberSilence || (error as? EtcdError)?.code == .deadlineExceeded || (error as? RPCError)?.code == .deadlineExceeded
        }
    }

    /// Whether the failed request certainly never reached etcd's state machine: gRPC could not
    /// open a stream at all (no connection, the TLS handshake failed), or the member refused it
    /// for lack of a leader before proposing.
    var requestCertainlyNotApplied: Bool {
        if Self.tlsError(in: self) != nil { return true }
        switch EtcdServerError(in: self) {
        case .noLeader, .notLeader, .notCapable: return true
        default: break
        }
        return Self.causes(of: self).contains { ($0 as? RPCError).map(GRPCStreamNeverOpened.matches) ?? false }
    }
}
