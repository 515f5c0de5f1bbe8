import Logging
import Synchronization

/// The members the client knows and which one it is currently using.
///
/// All traffic goes to one "pinned" member (as etcd's own client does): a linearizable read is
/// served by the leader either way, and one connection keeps start-up cheap. When a request or
/// stream fails in a way another member could fix, the caller moves the pin on.
final class EndpointPool: Sendable {
    private struct State {
        var pinned: Int
        /// Members that answered since their last failure; others get only `dialTimeout` per try.
        var answered: [Bool]
    }

    let connections: [EndpointConnection]
    private let state: Mutex<State>
    private let logger: Logger

    init(connections: [EndpointConnection], logger: Logger) {
        precondition(!connections.isEmpty)
        self.connections = connections
        self.logger = logger
        self.state = Mutex(State(pinned: 0, answered: Array(repeating: false, count: connections.count)))
    }

    /// The member to use now.
    var pinned: EndpointConnection {
        self.connections[self.state.withLock { $0.pinned }]
    }

    func hasAnswered(_ connection: EndpointConnection) -> Bool {
        guard let index = self.index(of: connection) else { return false }
        return self.state.withLock { $0.answered[index] }
    }

    func recordSuccess(_ connection: EndpointConnection) {
        guard let index = self.index(of: connection) else { return }
        self.state.withLock { $0.answered[index] = true }
    }

    /// Moves the pin past `connection` unless someone else already did.
    func recordFailure(_ connection: EndpointConnection, error: EtcdError) {
        guard let index = self.index(of: connection) else { return }
        let (moved, wasWorking) = self.state.withLock { state -> (Int?, Bool) in
            let wasWorking = state.answered[index]
            state.answered[index] = false
            guard state.pinned == index else { return (nil, wasWorking) }
            state.pinned = (index + 1) % self.connections.count
            return (state.pinned, wasWorking)
        }
        // Tell operators when a member that was serving us fails; retries against members that
        // are still down are only debug noise.
        if let moved, wasWorking, self.connections.count > 1 {
            self.logger.notice(
                "etcd endpoint failed, switching to the next one",
                metadata: [
                    "etcd_endpoint": "\(connection.url)",
                    "etcd_next_endpoint": "\(self.connections[moved].url)",
                    "etcd_error": "\(error.code): \(error.message)",
                ]
            )
        } else {
            self.logger.debug("etcd endpoint failed", metadata: ["etcd_endpoint": "\(connection.url)", "etcd_error": "\(error)"])
        }
    }

    private func index(of connection: EndpointConnection) -> Int? {
        self.connections.firstIndex { $0 === connection }
    }
}
