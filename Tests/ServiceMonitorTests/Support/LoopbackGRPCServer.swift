#if canImport(Glibc)
import Glibc
#endif
import GRPCCore
import GRPCHealthProto
import GRPCNIOTransportHTTP2
import NIOCore
import Synchronization
import TestSupport

/// The `grpc.health.v1.Health` service of the test servers: answers `Check` from a table of
/// statuses the test can change, and records the service names it was asked about. A service not
/// in the table fails with NOT_FOUND, as the health protocol says.
final class TestHealthService: Grpc_Health_V1_Health.SimpleServiceProtocol {
    typealias Status = Grpc_Health_V1_HealthCheckResponse.ServingStatus

    private struct State {
        var statuses: [String: Status]
        var askedAbout: [String] = []
    }

    private let state: Mutex<State>

    /// `statuses` by service name; `""` is the server as a whole.
    init(_ statuses: [String: Status] = ["": .serving]) {
        self.state = Mutex(State(statuses: statuses))
    }

    func setStatus(_ status: Status, for service: String = "") {
        self.state.withLock { $0.statuses[service] = status }
    }

    /// The `service` of every `Check` received, in order.
    var askedAbout: [String] {
        self.state.withLock { $0.askedAbout }
    }

    func check(
        request: Grpc_Health_V1_HealthCheckRequest,
        context: ServerContext
    ) async throws -> Grpc_Health_V1_HealthCheckResponse {
        let status = self.state.withLock { state in
            state.askedAbout.append(request.service)
            return state.statuses[request.service]
        }
        guard let status else {
            throw RPCError(code: .notFound, message: "unknown service \(request.service.debugDescription)")
        }
        var response = Grpc_Health_V1_HealthCheckResponse()
        response.status = status
        return response
    }

    func watch(
        request: Grpc_Health_V1_HealthCheckRequest,
        response: RPCWriter<Grpc_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        throw RPCError(code: .unimplemented, message: "the checks only call Check")
    }
}

/// A real gRPC server (grpc-swift's `GRPCServer` over HTTP/2, optionally in TLS) on 127.0.0.1.
final class LoopbackGRPCServer: Sendable {
    let port: Int
    private let connections = Mutex(0)

    fileprivate init(port: Int) {
        self.port = port
    }

    fileprivate func connectionAccepted() {
        self.connections.withLock { $0 += 1 }
    }

    /// TCP connections accepted so far (a client reusing its connection would make fewer than
    /// checks).
    var acceptedConnections: Int { self.connections.withLock { $0 } }
}

/// Runs `body` while a gRPC server with `services` listens on 127.0.0.1, on `port` or a free one
/// of ``LoopbackPorts`` (a fixed `port` lets a test restart a server where it was). The server is
/// stopped before this returns: its port refuses connections.
func withLoopbackGRPCServer<Result: Sendable>(
    services: [any RegistrableRPCService],
    tls authority: TestCertificateAuthority? = nil,
    port: Int? = nil,
    _ body: (LoopbackGRPCServer) async throws -> Result
) async throws -> Result {
    let (descriptor, port) = if let port {
        (try listeningSocket(port: port), port)
    } else {
        try await LoopbackPorts.bind { port in (try listeningSocket(port: port), port) }
    }
    let server = LoopbackGRPCServer(port: port)
    let security: HTTP2ServerTransport.Posix.TransportSecurity = if let authority {
        .tls(
            certificateChain: [.file(path: authority.serverCertificateFile, format: .pem)],
            privateKey: .file(path: authority.serverKeyFile, format: .pem)
        )
    } else {
        .plaintext
    }
    let transport = HTTP2ServerTransport.Posix(
        listeningSocketDescriptor: Int(descriptor),
        transportSecurity: security,
        config: .defaults { config in
            config.channelDebuggingCallbacks.onAcceptTCPConnection = { [server] channel in
                server.connectionAccepted()
                return channel.eventLoop.makeSucceededVoidFuture()
            }
        }
    )
    let grpcServer = GRPCServer(transport: transport, services: services)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await grpcServer.serve() }
        do {
            // Once serve() has taken over the socket, so that a shutdown cannot come first.
            _ = try await transport.listeningAddress
            let result = try await body(server)
            // Closes the listener, then waits for the open RPCs (none: a check closes its
            // connection when it ends) before serve() returns.
            grpcServer.beginGracefulShutdown()
            try await group.waitForAll()
            // serve() can return just before its listener is closed; "stopped" means refusing.
            try await eventually("127.0.0.1:\(port) to refuse connections once its server stopped", every: .milliseconds(5)) {
                refusesConnections(port: port)
            }
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// A socket listening on 127.0.0.1:`port` (SO_REUSEADDR, so a restarted server gets its port
/// back), for the server transport to take over. Throws `IOError` so that ``LoopbackPorts/bind(_:)``
/// retries a port in use. Close-on-exec, as every socket the tests make: a process another test
/// spawned meanwhile (etcd, moto) would otherwise keep it listening after the server stopped
/// (twice seen as a port that never refused connections).
private func listeningSocket(port: Int) throws -> CInt {
    let descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
    var one: CInt = 1
    var address = LoopbackPorts.address(port: port)
    let listening = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size)) == 0
                && bind(descriptor, generic, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                && listen(descriptor, 128) == 0
        }
    }
    guard listening else {
        let failure = IOError(errnoCode: errno, reason: "bind/listen 127.0.0.1:\(port)")
        close(descriptor)
        throw failure
    }
    return descriptor
}

/// Whether a connect to 127.0.0.1:`port` is refused (nothing listens).
private func refusesConnections(port: Int) -> Bool {
    let descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { return false }
    defer { close(descriptor) }
    var address = LoopbackPorts.address(port: port)
    let connected = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
    return !connected && errno == ECONNREFUSED
}
