import NIOCore
import NIOPosix
import Testing

/// A TCP listener on 127.0.0.1 that accepts connections and never sends a byte: the shape of a
/// wedged service, for timeout tests (and a live port for tcp:// checks).
final class SilentServer: Sendable {
    let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    static func start() async throws -> SilentServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // No handlers: whatever the client sends is read and dropped; nothing is answered.
            .childChannelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = try #require(channel.localAddress?.port)
        return SilentServer(port: port, channel: channel)
    }

    func stop() async {
        try? await self.channel.close()
    }
}

func withSilentServer<Result>(_ body: (SilentServer) async throws -> Result) async throws -> Result {
    let server = try await SilentServer.start()
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// A loopback port that nothing listens on: bound by a real listener, then closed, so a connect
/// is refused (the kernel does not hand the port out again this quickly).
func closedLoopbackPort() async throws -> Int {
    let server = try await SilentServer.start()
    await server.stop()
    return server.port
}
