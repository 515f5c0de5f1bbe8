import GRPCCore
public import Logging
public import ServiceLifecycle

/// A client for an etcd v3 cluster.
///
/// Holds one gRPC connection per endpoint, made once and reused by every request. The
/// connections only work while ``run()`` is running, so either
///
/// - use ``withEtcdClient(_:logger:isolation:_:)`` for a short job (it runs them around your closure), or
/// - add the client to a swift-service-lifecycle `ServiceGroup` (it is a `Service`; `run()`
///   returns after graceful shutdown once in-flight calls finish). Put it *before* the services
///   that use it, so it is shut down after them.
///
/// All methods are safe to call concurrently from any task.
public final class EtcdClient: Service, Sendable {
    public let configuration: Configuration
    let pool: EndpointPool
    let auth: AuthSession

    /// Creates a client. Nothing connects until the first request.
    ///
    /// - Parameter logger: receives fail-over notices (an endpoint failed, the next one is
    ///   used) and debug detail; silent by default.
    /// - Throws: ``EtcdError`` with code ``EtcdError/Code-swift.struct/invalidConfiguration``
    ///   for an empty endpoint list, a malformed endpoint URL or unusable TLS files.
    public init(configuration: Configuration, logger: Logger = EtcdClient.silentLogger) throws(EtcdError) {
        guard !configuration.endpoints.isEmpty else {
            throw EtcdError(code: .invalidConfiguration, message: "no etcd endpoints configured")
        }
        guard configuration.requestTimeout > .zero, configuration.dialTimeout > .zero else {
            throw EtcdError(code: .invalidConfiguration, message: "timeouts must be positive")
        }
        var connections: [EndpointConnection] = []
        for url in configuration.endpoints {
            let address = try EndpointAddress(parsing: url)
            connections.append(try EndpointConnection(address: address, tls: configuration.tls))
        }
        self.configuration = configuration
        self.pool = EndpointPool(connections: connections, logger: logger)
        self.auth = AuthSession(credentials: configuration.credentials)
    }

    /// A logger that drops everything: the default.
    public static let silentLogger = Logger(label: "etcd", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The endpoint URL the client currently sends its requests, watches and keep-alives to.
    public var currentEndpoint: String {
        self.pool.pinned.url
    }

    /// Runs the connections until ``shutdown()`` is called or, inside a `ServiceGroup`, until
    /// graceful shutdown; then lets in-flight requests finish and returns.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                for connection in self.pool.connections {
                    group.addTask { try await connection.grpcClient.runConnections() }
                }
            }
        } onGracefulShutdown: {
            self.shutdown()
        }
    }

    /// Stops accepting new requests and makes ``run()`` return once in-flight ones finish.
    public func shutdown() {
        for connection in self.pool.connections {
            connection.grpcClient.beginGracefulShutdown()
        }
    }
}

/// Creates a client, runs its connections while `body` runs, and shuts it down afterwards.
///
/// Made for one-shot work such as a CLI command:
///
/// ```swift
/// let hosts = try await withEtcdClient(.defaults) { client in
///     try await client.range(.prefix("/service-monitor/es/instances/"))
/// }
/// ```
public func withEtcdClient<Result: Sendable>(
    _ configuration: EtcdClient.Configuration,
    logger: Logger = EtcdClient.silentLogger,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (EtcdClient) async throws -> Result
) async throws -> Result {
    let client = try EtcdClient(configuration: configuration, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
        group.addTask { try await client.run() }
        do {
            let result = try await body(client)
            client.shutdown()
            try await group.waitForAll()
            return result
        } catch {
            client.shutdown()
            group.cancelAll()
            throw error
        }
    }
}
