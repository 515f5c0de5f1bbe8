/// The outcome of one health check: up or down, how long it took, the HTTP status when one was
/// received, and why it was down. ``detail`` is the short text for STATUS= lines and logs.
public struct CheckResult: Sendable, CustomStringConvertible {
    /// Time from starting the check to its outcome, measured with `ContinuousClock`.
    public var latency: Duration
    /// The response status, when the server answered (even with an unexpected status).
    public var httpStatus: Int?
    /// Why the check was down; `nil` when it was up.
    public var failure: CheckFailure?
    /// One short line, e.g. `HTTP 200 in 3 ms`, `connection refused`, `timed out after 2 s`.
    public var detail: String

    public init(latency: Duration, httpStatus: Int? = nil, failure: CheckFailure? = nil, detail: String) {
        self.latency = latency
        self.httpStatus = httpStatus
        self.failure = failure
        self.detail = detail
    }

    /// True when the target answered as expected within the timeout.
    public var isUp: Bool { self.failure == nil }

    public var description: String {
        "\(self.isUp ? "up" : "down"): \(self.detail)"
    }
}

/// Why a check came out down. Match on ``kind``; ``detail`` is for people.
public struct CheckFailure: Error, Sendable, CustomStringConvertible {
    /// The families of failure an operator acts on differently.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// Nothing listens on the port (ECONNREFUSED).
        case refused
        /// No answer within the check timeout (connect, TLS handshake or response).
        case timeout
        /// The TLS handshake failed: untrusted or mismatched certificate, protocol mismatch.
        case tls
        /// The host name could not be resolved.
        case dns
        /// The server answered with a status outside `--expect-status` (3xx redirects included),
        /// or a gRPC health status other than SERVING.
        case unexpectedStatus
        /// The status was expected but the start of the body did not match `--expect-body`.
        case unexpectedBody
        /// Anything else: connection reset or closed early, unreachable network, cancellation.
        case other
    }

    public var kind: Kind
    /// Short text, e.g. `connection refused`, `TLS: certificate verify failed`.
    public var detail: String
    /// The error the transport reported, if any (kept for debug logging).
    public var cause: (any Error)?

    public init(kind: Kind, detail: String, cause: (any Error)? = nil) {
        self.kind = kind
        self.detail = detail
        self.cause = cause
    }

    public var description: String { self.detail }
}
