public import Logging
public import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus
public import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP listener of `--metrics-address`: `GET /metrics` from a Prometheus registry, on the
/// event loops the process already runs. Listening starts at ``bind(host:port:registry:logger:)``
/// (so a taken port fails before anything else happens) and ends at graceful shutdown.
public struct MetricsEndpoint: Service {
    /// A scraper's connection left idle this long is closed.
    public static let idleTimeout = TimeAmount.seconds(60)

    /// Where it listens (the port resolved when 0 was asked for).
    public let localAddress: SocketAddress
    private let channel: any Channel
    private let logger: Logger

    public static func bind(
        host: String, port: Int, registry: PrometheusCollectorRegistry, logger: Logger
    ) async throws(MetricsEndpointError) -> MetricsEndpoint {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(MetricsHTTPHandler(registry: registry))
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: host, port: port).get()
        } catch {
            throw MetricsEndpointError(listeningOn: host, port: port, error)
        }
        guard let localAddress = channel.localAddress else {
            try? await channel.close()
            throw MetricsEndpointError(code: .other, message: "cannot listen on \(hostPort(host, port)): no local address", cause: nil)
        }
        return MetricsEndpoint(localAddress: localAddress, channel: channel, logger: logger)
    }

    public func run() async {
        logger.info("serving metrics at http://\(Self.hostPort(localAddress))/metrics")
        // Returns at graceful shutdown, or throws when the group is cancelled: stop either way.
        try? await gracefulShutdown()
        try? await channel.close()
    }

    static func hostPort(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    static func hostPort(_ address: SocketAddress) -> String {
        hostPort(address.ipAddress ?? "?", address.port ?? 0)
    }
}

/// Why `--metrics-address` could not be listened on. Match on ``code``.
public struct MetricsEndpointError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// Another process listens there (EADDRINUSE).
        case addressInUse
        /// Not an address of this host (EADDRNOTAVAIL), or a name that does not resolve.
        case addressNotAvailable
        /// A privileged port without the capability (EACCES).
        case permissionDenied
        case other
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?

    public init(code: Code, message: String, cause: (any Error)?) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    init(listeningOn host: String, port: Int, _ error: any Error) {
        let code: Code
        let reason: String
        switch (error as? IOError)?.errnoCode {
        case EADDRINUSE?: (code, reason) = (.addressInUse, "address already in use")
        case EADDRNOTAVAIL?: (code, reason) = (.addressNotAvailable, "not an address of this host")
        case EACCES?: (code, reason) = (.permissionDenied, "permission denied")
        default:
            if error is SocketAddressError {
                (code, reason) = (.addressNotAvailable, "the host name does not resolve")
            } else {
                (code, reason) = (.other, "\(error)")
            }
        }
        self.init(code: code, message: "cannot listen on \(MetricsEndpoint.hostPort(host, port)): \(reason)", cause: error)
    }

    public var description: String { message }
}
