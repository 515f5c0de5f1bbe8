import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP port that accepts connections (the kernel completes the handshake) but never
/// says a word: what a hung member or a host behind a broken network looks like to a client.
public final class EtcdSilentListener: @unchecked Sendable {
    public let port: Int
    private let descriptor: Int32
    private let lock = NSLock()
    private var closed = false

    /// `http://127.0.0.1:<port>`.
    public var url: String { "http://127.0.0.1:\(self.port)" }

    public init() throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw EtcdTestError("socket() failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ready = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0 && listen(descriptor, 64) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard ready else {
            Glibc.close(descriptor)
            throw EtcdTestError("cannot listen on loopback: errno \(errno)")
        }
        self.descriptor = descriptor
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Stops listening; pending connections are reset.
    public func close() {
        let shouldClose = self.lock.withLock { () -> Bool in
            defer { self.closed = true }
            return !self.closed
        }
        if shouldClose { Glibc.close(self.descriptor) }
    }

    deinit {
        self.close()
    }
}
