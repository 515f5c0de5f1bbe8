extension HealthChecker {
    /// How checks are performed. The target itself is passed separately (``CheckTarget``).
    public struct Configuration: Sendable, Hashable {
        /// A 2 s timeout, 2xx statuses, the system's trust roots.
        public static let defaults = Configuration()

        /// Bound on one whole check: DNS, connect, TLS handshake, response head and body. Positive:
        /// the command line parses it with ``Swift/Duration/init(parsingPositive:option:)``.
        public var timeout: Duration
        /// HTTP statuses that count as up (ignored for tcp targets).
        public var expectedStatus: ExpectedStatus
        /// How an https or grpcs target's certificate is verified (ignored for the others).
        public var certificateVerification: CertificateVerification
        /// Sent as `User-Agent` so the service's access log shows who is asking.
        public var userAgent: String
        /// Extra request headers of http(s) checks, sent in this order (a `User-Agent` among them
        /// replaces ``userAgent``).
        public var headers: [HTTPCheckHeader]
        /// The request method of http(s) checks.
        public var method: HTTPCheckMethod
        /// What the start of an http(s) body must match to be up; `nil`: the body is not judged.
        /// Not with ``HTTPCheckMethod/head`` (there is no body).
        public var expectedBody: BodyPattern?

        public init(
            timeout: Duration = .seconds(2),
            expectedStatus: ExpectedStatus = .successful,
            certificateVerification: CertificateVerification = .systemTrustRoots,
            userAgent: String = "service-monitor",
            headers: [HTTPCheckHeader] = [],
            method: HTTPCheckMethod = .get,
            expectedBody: BodyPattern? = nil
        ) {
            self.timeout = timeout
            self.expectedStatus = expectedStatus
            self.certificateVerification = certificateVerification
            self.userAgent = userAgent
            self.headers = headers
            self.method = method
            self.expectedBody = expectedBody
        }

        /// Refuses what no request can satisfy: `--expect-body` with HEAD (there is no body).
        public func validateRequest() throws(BadInput) {
            if self.method == .head, let pattern = self.expectedBody {
                throw .badValue(.invalidValue, option: "--expect-body", value: pattern.source, "a HEAD response has no body (use --http-method GET)")
            }
        }
    }

    /// Certificate verification for https and grpcs targets. Verification is on unless explicitly
    /// skipped.
    public enum CertificateVerification: Sendable, Hashable {
        /// Verify the chain against the system trust store and the host name against the cert.
        case systemTrustRoots
        /// Verify against the CA certificates in this PEM file (a private CA), and the host name.
        case trustRootsFile(path: String)
        /// Accept any certificate: the check then only proves the service speaks TLS and HTTP.
        case skip
    }
}
