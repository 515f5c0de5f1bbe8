#if canImport(Glibc)
import Glibc
#endif
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
        let channel = try await LoopbackPorts.bind { port in
            try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                // No handlers: whatever the client sends is read and dropped; nothing is answered.
                .childChannelInitializer { channel in channel.eventLoop.makeSucceededVoidFuture() }
                .bind(host: "127.0.0.1", port: port)
                .get()
        }
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

/// A loopback port that nothing listens on: one of ``LoopbackPorts`` (where no other test binds)
/// that a bare socket could bind, so it was free; nothing ever listened there, so a connect is
/// refused at once.
func closedLoopbackPort() async throws -> Int {
    for _ in 0..<50 {
        let port = Int.random(in: LoopbackPorts.range)
        let probe = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard probe >= 0 else { throw BackloggedListener.SocketFailure(call: "socket") }
        defer { close(probe) }
        var address = LoopbackPorts.address(port: port)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if bound { return port }
    }
    throw BackloggedListener.SocketFailure(call: "bind")
}
