import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Performs GET requests against one http(s) target with one long-lived `HTTPClient`.
///
/// Cost and freshness: the client (and the shared NIO event loop group under it) is created once
/// per checker, never per check. Connections are not reused: every request says
/// `Connection: close`, so each check does its own connect (and TLS handshake). A pooled
/// keep-alive connection would hide a restarted or wedged listener behind a socket opened
/// earlier — exactly what a health check must see. One handshake every few seconds is cheap.
struct HTTPProbe: Sendable {
    /// The answer to one request, before it is judged against the expected statuses.
    enum Outcome: Sendable {
        /// `bodyMatched` is `nil` when no `--expect-body` was given.
        case responded(status: Int, bodyMatched: Bool?)
        case failed(any Error)
    }

    private let client: HTTPClient
    private let target: CheckTarget
    private let userAgent: String
    private let headers: [HTTPCheckHeader]
    private let method: HTTPCheckMethod
    private let expectedBody: BodyPattern?

    /// A health endpoint's body is small; past this much the rest is not worth reading, and
    /// `--expect-body` judges only this much.
    static let maximumBodyBytes = 64 * 1024

    init(target: CheckTarget, configuration: HealthChecker.Configuration) throws(BadInput) {
        try configuration.validateRequest()
        var clientConfiguration = HTTPClient.Configuration(
            tlsConfiguration: target.kind == .https ? try Self.tlsConfiguration(configuration.certificateVerification) : nil,
            redirectConfiguration: .disallow,  // a 3xx is the service's answer, judged like any status
            timeout: .init(connect: TimeAmount(checkDuration: configuration.timeout), read: TimeAmount(checkDuration: configuration.timeout)),
            decompression: .disabled
        )
        // HTTP/1.1 only: HTTP/2 multiplexes over a persistent connection that `Connection: close`
        // cannot end, which would reintroduce pooling.
        clientConfiguration.httpVersion = .http1Only
        // A refused connection is the answer, not a reason to back off and retry until the timeout.
        clientConfiguration.connectionPool.retryConnectionEstablishment = false
        clientConfiguration.connectionPool.idleTimeout = .seconds(1)
        // No tracing: service-monitor bootstraps no tracer, and AsyncHTTPClient would still open a
        // (no-op) span around every check and parse its URL a second time for the span's
        // attributes, about 30 000 instructions a check.
        clientConfiguration.tracing.tracer = nil
        self.client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: clientConfiguration)
        self.target = target
        self.userAgent = configuration.userAgent
        self.headers = configuration.headers
        self.method = configuration.method
        self.expectedBody = configuration.expectedBody
    }

    func run(timeout: Duration) async -> Outcome {
        var request = HTTPClientRequest(url: self.target.url)
        request.method = self.method == .head ? .HEAD : .GET
        request.headers.add(name: "User-Agent", value: self.userAgent)
        for header in self.headers {
            if header.name.lowercased() == "user-agent" {
                request.headers.replaceOrAdd(name: header.name, value: header.value)
            } else {
                request.headers.add(name: header.name, value: header.value)
            }
        }
        request.headers.replaceOrAdd(name: "Connection", value: "close")
        do {
            let response = try await self.client.execute(request, timeout: TimeAmount(checkDuration: timeout))
            // Read a bounded body (kept only when it is to be matched) so the exchange completes
            // cleanly; the caller's time limit bounds a server that trickles it.
            var kept = ByteBuffer()
            var received = 0
            for try await chunk in response.body {
                let wanted = min(chunk.readableBytes, Self.maximumBodyBytes - received)
                if self.expectedBody != nil, let slice = chunk.getSlice(at: chunk.readerIndex, length: wanted) {
                    kept.writeImmutableBuffer(slice)
                }
                received += wanted
                if received >= Self.maximumBodyBytes { break }
            }
            let bodyMatched = self.expectedBody.map { $0.matches(kept.readableBytesView) }
            return .responded(status: Int(response.status.code), bodyMatched: bodyMatched)
        } catch {
            return .failed(error)
        }
    }

    func shutdown() async {
        // Only fails when already shut down, which is what the caller wants anyway.
        try? await self.client.shutdown()
    }

    private static func tlsConfiguration(
        _ verification: HealthChecker.CertificateVerification
    ) throws(BadInput) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch verification {
        case .systemTrustRoots:
            break
        case .trustRootsFile(let path):
            tls.trustRoots = .certificates(try HealthChecker.CertificateVerification.loadTrustRoots(path))
        case .skip:
            tls.certificateVerification = .none
        }
        return tls
    }
}

extension TimeAmount {
    /// NIO's nanosecond amount for a Swift `Duration`.
    init(checkDuration duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
