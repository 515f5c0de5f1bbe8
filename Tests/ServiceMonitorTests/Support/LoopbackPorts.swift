import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Where the in-process servers listen. Binding port 0 picks from the kernel's ephemeral range
/// (32768–60999 by default), where a port one test just closed is soon handed to a test running
/// beside it — and "nothing listens here any more" stops being true. These servers bind a random
/// port below that range instead: port 0 never lands there, so a stopped server's port stays
/// unused while the suites run in parallel.
enum LoopbackPorts {
    static let range = 20_000..<32_768

    /// Calls `bind` with random ports of ``range`` until one is free.
    static func bind<Result>(_ bind: (Int) async throws -> Result) async throws -> Result {
        var attempts = 0
        while true {
            do {
                return try await bind(Int.random(in: range))
            } catch let error as IOError where error.errnoCode == EADDRINUSE && attempts < 50 {
                attempts += 1
            }
        }
    }
}

extension LoopbackPorts {
    /// 127.0.0.1:`port`, for the raw socket calls of the test servers.
    static func address(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}
