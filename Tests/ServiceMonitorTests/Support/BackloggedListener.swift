#if canImport(Glibc)
import Glibc
#endif

/// A loopback listener that never accepts, with its accept queue filled by parked connections:
/// Linux then drops further SYNs, so a new connect neither succeeds nor is refused — it hangs
/// until the client gives up. The real-world shape of an overloaded or firewalled service.
final class BackloggedListener {
    let port: Int
    private var descriptors: [CInt] = []

    init() throws {
        let listener = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw SocketFailure(call: "socket") }
        self.descriptors.append(listener)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(listener, generic, length) == 0 && listen(listener, 0) == 0
                    && getsockname(listener, generic, &length) == 0
            }
        }
        guard bound else { throw SocketFailure(call: "bind/listen") }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        // Backlog 0 queues one connection; a few more make sure the queue is full.
        for _ in 0..<4 {
            let client = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
            guard client >= 0 else { throw SocketFailure(call: "socket") }
            self.descriptors.append(client)
            _ = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) }
            }
        }
    }

    func close() {
        for descriptor in self.descriptors { _ = Glibc.close(descriptor) }
        self.descriptors = []
    }

    struct SocketFailure: Error, CustomStringConvertible {
        var call: String
        var description: String { "\(self.call) failed: errno \(errno)" }
    }
}
