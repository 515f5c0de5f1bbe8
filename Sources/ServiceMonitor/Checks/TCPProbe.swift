import NIOCore
import NIOPosix

/// Checks a `tcp://` target by opening a connection and closing it at once.
struct TCPProbe: Sendable {
    enum Outcome: Sendable {
        case connected
        case failed(any Error)
    }

    private let target: CheckTarget

    init(target: CheckTarget) {
        self.target = target
    }

    func run(timeout: Duration) async -> Outcome {
        // Bootstraps are cheap value-like builders; the event loop group is the shared singleton,
        // so no threads are created per check.
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(TimeAmount(checkDuration: timeout))
        do {
            let channel = try await bootstrap.connect(host: self.target.host, port: self.target.port).get()
            try? await channel.close()
            return .connected
        } catch {
            return .failed(error)
        }
    }
}
