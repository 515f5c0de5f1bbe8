import GRPCCore
import NIOCore

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

/// Message fragments etcd puts into gRPC statuses (see etcd's `rpctypes` package). Matching on
/// them is how etcd's own clients tell these cases apart; the gRPC codes alone are ambiguous.
enum EtcdServerMessage {
    static let leaseNotFound = "requested lease not found"
    static let permissionDenied = "permission denied"
    static let invalidAuthToken = "invalid auth token"
    static let authOldRevision = "revision of auth store is old"
    static let userNameEmpty = "user name is empty"
    static let authFailed = "authentication failed"
    static let authNotEnabled = "authentication is not enabled"
    static let compacted = "required revision has been compacted"
    static let futureRevision = "required revision is a future revision"
    static let notLeader = "not leader"
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
        guard let rpcError = error as? RPCError else {
            let code: Code = Self.looksLikeTLSFailure(error) ? .tlsFailure : .internalError
            self.init(code: code, message: "\(error)", endpoint: endpoint, cause: error)
            return
        }
        let message = rpcError.message
        let code: Code
        switch rpcError.code {
        case _ where message.contains(EtcdServerMessage.leaseNotFound):
            code = .leaseNotFound
        case _ where message.contains(EtcdServerMessage.permissionDenied):
            code = .permissionDenied
        case _ where message.contains(EtcdServerMessage.authFailed),
            _ where message.contains(EtcdServerMessage.invalidAuthToken),
            _ where message.contains(EtcdServerMessage.userNameEmpty):
            code = .authenticationFailed
        case _ where message.contains(EtcdServerMessage.compacted):
            code = .compacted
        case _ where message.contains(EtcdServerMessage.futureRevision):
            code = .futureRevision
        case _ where Self.looksLikeTLSFailure(rpcError):
            code = .tlsFailure
        case .unavailable:
            code = .unavailable
        case .deadlineExceeded:
            code = .deadlineExceeded
        case .permissionDenied:
            code = .permissionDenied
        case .unauthenticated:
            code = .authenticationFailed
        case .invalidArgument, .outOfRange, .failedPrecondition, .alreadyExists:
            code = .invalidArgument
        case .notFound:
            code = .leaseNotFound  // etcd only answers NotFound for leases
        case .cancelled:
            code = .cancelled
        default:
            code = .internalError
        }
        if code == .tlsFailure {
            // gRPC's own message talks about the HTTP/2 preface; the TLS error says what is wrong.
            let detail = Self.innermostCause(of: rpcError).map { "\($0)" } ?? message
            self.init(code: code, message: "TLS handshake failed: \(Self.explainTLSFailure(detail))", endpoint: endpoint, cause: rpcError)
            return
        }
        if code == .unavailable, let failure = Self.innermostCause(of: rpcError) as? IOError {
            // gRPC says "Channel is in a transient failure state…"; the socket error says why.
            self.init(code: code, message: "cannot connect: \(String(cString: strerror(failure.errnoCode)))", endpoint: endpoint, cause: rpcError)
            return
        }
        self.init(code: code, message: message, endpoint: endpoint, cause: rpcError)
    }

    /// BoringSSL's description (`handshakeFailed(…sslError([Error: 268435581 error:1000007d:SSL
    /// routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at /path/handshake.cc:320]))`) cut to
    /// its reason, with what the reason means for the operator.
    static func explainTLSFailure(_ detail: String) -> String {
        if detail.contains("EOF during handshake") {
            return "the server closed the connection during the handshake: does it serve TLS on this port? (EOF during handshake)"
        }
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

    private static func innermostCause(of error: RPCError) -> (any Error)? {
        var current: (any Error)? = error.cause
        while let next = (current as? RPCError)?.cause ?? (current as? RuntimeError)?.cause {
            current = next
        }
        return current
    }

    /// How a request that failed with this error should proceed.
    var disposition: ErrorDisposition {
        let causeMessage = (self.cause as? RPCError)?.message ?? ""
        if causeMessage.contains(EtcdServerMessage.invalidAuthToken)
            || causeMessage.contains(EtcdServerMessage.authOldRevision)
            || causeMessage.contains(EtcdServerMessage.userNameEmpty)
        {
            return .refreshToken
        }
        // A follower that has lost the leader answers "not leader" for some requests; the next
        // member can serve them.
        if causeMessage.contains(EtcdServerMessage.notLeader) { return .tryAnotherEndpoint }
        return self.code == .unavailable ? .tryAnotherEndpoint : .fail
    }

    /// Whether the failed request certainly never reached etcd's state machine: gRPC could not
    /// open a stream at all, or the member refused it for lack of a leader before proposing.
    var requestCertainlyNotApplied: Bool {
        var messages: [String] = [self.message]
        var current: (any Error)? = self.cause
        while let error = current {
            if let rpcError = error as? RPCError {
                messages.append(rpcError.message)
                current = rpcError.cause
            } else if let etcdError = error as? EtcdError {
                messages.append(etcdError.message)
                current = etcdError.cause
            } else {
                current = nil
            }
        }
        let notSent = [
            // grpc-swift failing an RPC before its stream exists (no connection, connect or TLS
            // failure, stream could not be opened).
            "transient failure state", "no subchannel available", "Failed to resolve", "Subchannel shutdown",
            "subchannel isn't ready", "subchannel is unavailable", "Could not establish a connection",
            "closed the connection before completing the HTTP/2 connection preface",
            // etcd rejecting before proposing.
            "etcdserver: no leader", "etcdserver: not leader", "etcdserver: not capable",
        ]
        return messages.contains { message in notSent.contains { message.contains($0) } }
    }

    /// The TLS stack reports handshake problems through errors whose type lives in swift-nio-ssl,
    /// which this module does not import; their descriptions are distinctive enough.
    static func looksLikeTLSFailure(_ error: any Error) -> Bool {
        var current: (any Error)? = error
        var depth = 0
        while let error = current, depth < 8 {
            let text = String(reflecting: error)
            if text.contains("NIOSSL") || text.contains("handshakeFailed") || text.contains("BoringSSL")
                || text.contains("CERTIFICATE_VERIFY_FAILED")
            {
                return true
            }
            current = (error as? RPCError)?.cause ?? (error as? RuntimeError)?.cause
            depth += 1
        }
        return false
    }
}
