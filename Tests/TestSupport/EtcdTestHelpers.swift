import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the etcd test fixture, with a message meant for the test log.
public struct EtcdTestError: Error, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Temporary directories for etcd fixtures.
public enum EtcdTestPaths {
    /// Creates a fresh directory under the system temp directory.
    public static func makeTemporaryDirectory(prefix: String) throws -> String {
        let path = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Free loopback TCP ports.
public enum EtcdFreePorts {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var handedOut: Set<Int> = []

    /// `count` distinct ports the kernel reports free (bound to port 0 on 127.0.0.1, then
    /// closed); never the same port twice within this process, so parallel tests don't collide.
    public static func take(_ count: Int) throws -> [Int] {
        var ports: [Int] = []
        var attempts = 0
        while ports.count < count {
            attempts += 1
            guard attempts < 1000 else { throw EtcdTestError("could not find \(count) free ports") }
            let port = try self.probe()
            let isNew = self.lock.withLock { self.handedOut.insert(port).inserted }
            if isNew { ports.append(port) }
        }
        return ports
    }

    private static func probe() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw EtcdTestError("socket() failed: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw EtcdTestError("bind() failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw EtcdTestError("getsockname() failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
