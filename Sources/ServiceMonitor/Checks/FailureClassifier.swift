import Posix
import AsyncHTTPClient
import GRPCCore
import NIOCore
import NIOPosix
import NIOSSL

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Maps the errors AsyncHTTPClient, gRPC and SwiftNIO report into the few failure kinds an operator
/// acts on, each with a short detail line. Unknown errors become ``CheckFailure/Kind/other``
/// carrying their own description, so nothing is hidden.
struct FailureClassifier {
    /// The check timeout, quoted in timeout details.
    var timeout: Duration
    /// The host being checked, quoted in DNS details.
    var host: String

    func classify(_ error: any Error) -> CheckFailure {
        switch error {
        case let error as HTTPClientError:
            return self.classify(error)
        case let error as RPCError:
            return self.classify(error)
        case let error as NIOConnectionError:
            return self.classify(error)
        case let error as ChannelError:
            return self.classify(error)
        case let error as IOError:
            return self.classify(errno: error.errnoCode, error)
        case let error as SocketAddressError:
            return self.dnsFailure(error)
        case let error as NIOSSLError:
            return CheckFailure(kind: .tls, detail: "TLS: \(Self.describe(error))", cause: error)
        case let error as BoringSSLError:
            return CheckFailure(kind: .tls, detail: "TLS: \(Self.describe(error))", cause: error)
        case let error as NIOSSLExtraError:
            return CheckFailure(kind: .tls, detail: "TLS: \(Self.describe(error))", cause: error)
        case is CancellationError:
            return CheckFailure(kind: .other, detail: "cancelled", cause: error)
        default:
            return CheckFailure(kind: .other, detail: "error: \(error)", cause: error)
        }
    }

    /// The detail for a check that ran out of time.
    func timedOut(cause: (any Error)? = nil) -> CheckFailure {
        CheckFailure(kind: .timeout, detail: "timed out after \(self.timeout.checkDetailText)", cause: cause)
    }

    private func classify(_ error: HTTPClientError) -> CheckFailure {
        switch error {
        case .connectTimeout, .deadlineExceeded, .readTimeout, .writeTimeout, .getConnectionFromPoolTimeout:
            return self.timedOut(cause: error)
        case .tlsHandshakeTimeout:
            return CheckFailure(kind: .timeout, detail: "timed out after \(self.timeout.checkDetailText) in the TLS handshake", cause: error)
        case .remoteConnectionClosed:
            return CheckFailure(kind: .other, detail: "connection closed before a response", cause: error)
        case .cancelled:
            return CheckFailure(kind: .other, detail: "cancelled", cause: error)
        default:
            return CheckFailure(kind: .other, detail: "HTTP client: \(error.shortDescription)", cause: error)
        }
    }

    /// gRPC fails an RPC whose connection could not be made (refused, TLS, DNS) as UNAVAILABLE,
    /// with the transport's error as its cause: that error says what happened, gRPC's message
    /// ("channel is in a transient failure state") does not. An answer of the server itself, such
    /// as UNIMPLEMENTED from one without the health service, is quoted with its code.
    private func classify(_ error: RPCError) -> CheckFailure {
        let causes = sequence(first: error as any Error) { ($0 as? RPCError)?.cause ?? ($0 as? RuntimeError)?.cause }
        if let transportError = causes.first(where: Self.isTransportError) {
            return self.classify(transportError)
        }
        // gRPC's resolver error type is not public; it says so only in the message.
        if causes.contains(where: { ($0 as? RPCError)?.message.hasPrefix("Failed to resolve") == true }) {
            return self.dnsFailure(error)
        }
        switch error.code {
        case .deadlineExceeded:
            return self.timedOut(cause: error)
        case .cancelled:
            return CheckFailure(kind: .other, detail: "cancelled", cause: error)
        default:
            let message = error.message.split(whereSeparator: \.isNewline).first.map { ": \($0)" } ?? ""
            return CheckFailure(kind: .other, detail: "gRPC \(Self.words(error.code))\(message)", cause: error)
        }
    }

    /// The socket, connect and TLS errors under gRPC's, which ``classify(_:)`` words.
    private static func isTransportError(_ error: any Error) -> Bool {
        error is IOError || error is NIOConnectionError || error is ChannelError || error is SocketAddressError
            || error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
    }

    /// `unimplemented`, `not found`, `internal error`: the code's name in lowercase words.
    private static func words(_ code: RPCError.Code) -> String {
        var words = ""
        for character in "\(code)" {
            if character.isUppercase { words.append(" ") }
            words.append(contentsOf: character.lowercased())
        }
        return words
    }

    /// Happy-eyeballs connect failures: refused on any address beats other connect errors, and
    /// no address at all means DNS failed.
    private func classify(_ error: NIOConnectionError) -> CheckFailure {
        let failures = error.connectionErrors.map { self.classify($0.error) }
        if let refused = failures.first(where: { $0.kind == .refused }) {
            return refused
        }
        if let first = failures.first {
            return first
        }
        if let dnsError = error.dnsAError ?? error.dnsAAAAError {
            return self.dnsFailure(dnsError)
        }
        return CheckFailure(kind: .dns, detail: "DNS: no address for \(self.host.debugDescription)", cause: error)
    }

    private func classify(_ error: ChannelError) -> CheckFailure {
        switch error {
        case .connectTimeout:
            return self.timedOut(cause: error)
        case .eof, .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed:
            return CheckFailure(kind: .other, detail: "connection closed before a response", cause: error)
        default:
            return CheckFailure(kind: .other, detail: "error: \(error)", cause: error)
        }
    }

    private func classify(errno code: CInt, _ error: any Error) -> CheckFailure {
        switch code {
        case ECONNREFUSED:
            return CheckFailure(kind: .refused, detail: "connection refused", cause: error)
        case ETIMEDOUT:
            return self.timedOut(cause: error)
        case ECONNRESET:
            return CheckFailure(kind: .other, detail: "connection reset", cause: error)
        case EHOSTUNREACH:
            return CheckFailure(kind: .other, detail: "host unreachable", cause: error)
        case ENETUNREACH:
            return CheckFailure(kind: .other, detail: "network unreachable", cause: error)
        default:
            return CheckFailure(kind: .other, detail: "error: \(PosixError.reason(of: code))", cause: error)
        }
    }

    private func dnsFailure(_ error: any Error) -> CheckFailure {
        CheckFailure(kind: .dns, detail: "DNS: cannot resolve \(self.host.debugDescription)", cause: error)
    }

    // MARK: TLS wording

    private static func describe(_ error: NIOSSLError) -> String {
        switch error {
        case .handshakeFailed(let inner):
            return Self.describe(inner)
        case .uncleanShutdown:
            return "connection closed during the handshake"
        default:
            return "\(error)"
        }
    }

    /// BoringSSL reasons read `error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED
    /// at file:line`; keep only the reason, in lowercase words.
    private static func describe(_ error: BoringSSLError) -> String {
        switch error {
        case .sslError(let stack), .unknownError(let stack):
            guard let reason = stack.last.map({ Self.reason(fromBoringSSL: $0.description) }), !reason.isEmpty else {
                return "handshake failed"
            }
            return reason
        case .zeroReturn, .syscallError:
            return "connection closed during the handshake"
        default:
            return "\(error)"
        }
    }

    private static func describe(_ error: NIOSSLExtraError) -> String {
        switch error {
        case .failedToValidateHostname, .serverHostnameImpossibleToMatch:
            return "certificate does not match the host name"
        default:
            return "\(error)"
        }
    }

    static func reason(fromBoringSSL description: String) -> String {
        var text = Substring(description)
        if let at = text.firstRange(ofBytes: " at ") { text = text[..<at.lowerBound] }
        guard let reason = text.split(separator: ":").last else { return "" }
        return reason.lowercased().replacingUnderscores()
    }
}

extension String {
    fileprivate func replacingUnderscores() -> String {
        String(self.map { $0 == "_" ? " " : $0 })
    }
}
