/// Why a health check could not be set up: a bad `--monitor-url`, `--expect-status`, timeout or
/// rise/fall count, or an unusable TLS trust file.
///
/// Modelled on grpc-swift's `RPCError`: match on ``code``; ``message`` is one line for people and
/// always names the offending value, e.g.
/// `--monitor-url "ftp://x": unsupported scheme "ftp" (use http, https or tcp)`.
///
/// Failures of a check itself are not errors: ``HealthChecker/check()`` turns them into a down
/// ``CheckResult``.
public struct HealthCheckError: Error, Sendable, CustomStringConvertible {
    /// What kind of problem this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case malformedURL
            case unsupportedScheme
            case missingHost
            case invalidPort
            case whitespaceInURL
            case invalidExpectedStatus
            case invalidTimeout
            case invalidThreshold
            case unreadableTrustRoots
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        public var description: String { self.wrapped.rawValue }

        /// The URL does not have the shape `scheme://host[:port][/path][?query]`.
        public static let malformedURL = Self(.malformedURL)
        /// The scheme is not `http`, `https` or `tcp`.
        public static let unsupportedScheme = Self(.unsupportedScheme)
        /// The URL names no host.
        public static let missingHost = Self(.missingHost)
        /// The port is missing (required for `tcp://`), not a number, or outside 1–65535.
        public static let invalidPort = Self(.invalidPort)
        /// The URL contains whitespace or control characters (usually a quoting mistake).
        public static let whitespaceInURL = Self(.whitespaceInURL)
        /// `--expect-status` is not a list of status codes and ranges within 100–599.
        public static let invalidExpectedStatus = Self(.invalidExpectedStatus)
        /// The check timeout is not positive.
        public static let invalidTimeout = Self(.invalidTimeout)
        /// `--rise` or `--fall` is less than 1.
        public static let invalidThreshold = Self(.invalidThreshold)
        /// The CA file to trust cannot be read or holds no PEM certificate. Unlike the other codes
        /// this is a configuration problem (exit 78), not bad input (exit 64).
        public static let unreadableTrustRoots = Self(.unreadableTrustRoots)
    }

    /// What kind of problem this is.
    public var code: Code
    /// One line naming the bad value and what would be accepted.
    public var message: String
    /// The command-line option at fault (`--monitor-url`, `--expect-status`, ...), when known.
    public var option: String?
    /// The underlying error, if another layer reported one.
    public var cause: (any Error)?

    public init(code: Code, message: String, option: String? = nil, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.option = option
        self.cause = cause
    }

    /// True for bad command-line input (sysexits 64); false for configuration problems such as an
    /// unreadable CA file (sysexits 78).
    public var isBadInput: Bool { self.code != .unreadableTrustRoots }

    public var description: String {
        guard let cause else { return self.message }
        return "\(self.message) (\(cause))"
    }
}

extension HealthCheckError {
    /// `<option> "<value>": <reason>` — the shape every message takes, with the value quoted and
    /// escaped so stray whitespace or control characters are visible.
    static func badValue(
        _ code: Code,
        option: String,
        value: String,
        _ reason: String,
        cause: (any Error)? = nil
    ) -> Self {
        HealthCheckError(code: code, message: "\(option) \(value.debugDescription): \(reason)", option: option, cause: cause)
    }
}
