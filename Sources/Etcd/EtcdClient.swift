import GRPCCore
import Racing
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
    /// Finished by ``shutdown()``; ``run()`` waits on it to start the shutdown grace period.
    private let shutdownRequested: AsyncStream<Never>
    private let requestShutdown: AsyncStream<Never>.Continuation

    /// How long connections may take to close after ``shutdown()`` before they are cancelled:
    /// one still trying to reach a member that accepts TCP but never answers would otherwise
    /// hold shutdown forever.
    static let shutdownGracePeriod: Duration = .seconds(2)

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
        (self.shutdownRequested, self.requestShutdown) = AsyncStream<Never>.makeStream()
    }

    /// A logger that drops everything: the default.
    public static let silentLogger = Logger(label: "etcd", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The endpoint URL the client currently sends its requests, watches and keep-alives to.
    public var currentEndpoint: String {
        self.pool.pinned.url
    }

    /// Runs the connections until ``shutdown()`` is called or, inside a `ServiceGroup`, until
    /// graceful shutdown; then lets in-flight requests finish (for up to two seconds) and
    /// returns. Call it once.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await self.runConnections()
        } onGracefulShutdown: {
            self.shutdown()
        }
    }

    /// Stops accepting new requests and makes ``run()`` return once in-flight ones finish.
    public func shutdown() {
        self.requestShutdown.finish()
        for connection in self.pool.connections {
            connection.shutdown()
        }
    }

    /// Runs every connection until all have ended, or until the grace period after
    /// ``shutdown()`` is over, which cancels those still running.
    private func runConnections() async throws {
        _ = try await race(
            {
                try await withThrowingDiscardingTaskGroup { group in
                    for connection in self.pool.connections {
                        // The first channel and each that replaces one met by silence.
                        group.addTask {
                            try await withThrowingDiscardingTaskGroup { channels in
                                for await client in connection.clientsToRun {
                                    channels.addTask {
                                        do {
                                            try await client.runConnections()
                                        } catch let error as RuntimeError where error.code == .clientIsStopped {
                                            // Replaced again, or the client shut down, before it
                                            // ran: it never had a call to serve.
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                return ()
            },
            {
                for await _ in self.shutdownRequested {}
                try await Task.sleep(for: Self.shutdownGracePeriod)
                return ()
            }
        )
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
