import GRPCCore
import GRPCHealthProto
import GRPCNIOTransportHTTP2
import NIOSSL

/// Asks a `grpc://` or `grpcs://` target's `grpc.health.v1.Health/Check` about its service.
///
/// Cost and freshness: every check makes its own client, transport and HTTP/2 connection, and
/// closes them when it ends, so that the client's `runConnections()` lives inside the check's task
/// group (structured) and a restarted or wedged server is always met through a new connection —
/// as the http probe does with `Connection: close`. A long-lived gRPC channel would instead keep
/// one connection, and after a failure hold RPCs back for its reconnect backoff. What is made per
/// check is cheap: no threads (the shared NIO event loop group), and a `--check-cacert` file is
/// read once, when the checker is made. `CheckCostTests` measures a check's cost.
struct GRPCProbe: Sendable {
    enum Outcome: Sendable {
        /// The server answered `Check`; up only when the status is SERVING.
        case answered(Grpc_Health_V1_HealthCheckResponse.ServingStatus)
        case failed(any Error)
    }

    private typealias Transport = HTTP2ClientTransport.Posix

    private let target: CheckTarget
    private let transportSecurity: Transport.TransportSecurity

    init(target: CheckTarget, configuration: HealthChecker.Configuration) throws(BadInput) {
        self.target = target
        self.transportSecurity = target.kind == .grpcs ? try Self.tls(configuration.certificateVerification) : .plaintext
    }

    func run(timeout: Duration) async -> Outcome {
        var request = Grpc_Health_V1_HealthCheckRequest()
        request.service = self.target.grpcService
        var options = CallOptions.defaults
        options.timeout = timeout  // sent as grpc-timeout, so the server gives up too
        options.waitForReady = false  // a refused connection is the answer, not a reason to wait
        do {
            let transport = try Transport(
                target: self.resolvableTarget,
                transportSecurity: self.transportSecurity,
                config: .defaults
            )
            return try await withGRPCClient(transport: transport) { client in
                let health = Grpc_Health_V1_Health.Client(wrapping: client)
                return .answered(try await health.check(request, options: options).status)
            }
        } catch {
            return .failed(error)
        }
    }

    /// Literal addresses are connected to as such: TLS must not send an IP address as SNI.
    private var resolvableTarget: any ResolvableTarget {
        let host = self.target.host, port = self.target.port
        if host.contains(":") {
            return .ipv6(address: host, port: port)
        }
        if HostAddress.isIPv4(host) {
            return .ipv4(address: host, port: port)
        }
        return .dns(host: host, port: port)
    }

    private static func tls(
        _ verification: HealthChecker.CertificateVerification
    ) throws(BadInput) -> Transport.TransportSecurity {
        switch verification {
        case .systemTrustRoots:
            return .tls
        case .trustRootsFile(let path):
            var roots: [TLSConfig.CertificateSource] = []
            for certificate in try HealthChecker.CertificateVerification.loadTrustRoots(path) {
                do {
                    roots.append(.bytes(try certificate.toDERBytes(), format: .der))
                } catch {
                    throw .badValue(.unreadableTrustRoots, option: "CA file", value: path, "cannot read PEM certificates", cause: error)
                }
            }
            return .tls { $0.trustRoots = .certificates(roots) }
        case .skip:
            return .tls { $0.serverCertificateVerification = .noVerification }
        }
    }
}

extension Grpc_Health_V1_HealthCheckResponse.ServingStatus {
    /// The status as health.proto names it: `SERVING`, `NOT_SERVING`, ….
    var protoName: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .serving: "SERVING"
        case .notServing: "NOT_SERVING"
        case .serviceUnknown: "SERVICE_UNKNOWN"
        case .UNRECOGNIZED(let value): "status \(value)"
        }
    }
}
