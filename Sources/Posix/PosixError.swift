import CPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A system call that failed: which one, on what, and the `errno` it set.
///
/// Shaped like ``SystemdError`` and grpc-swift's `RPCError`: a stable ``Code`` to switch on, a
/// human message, and the cause (the `errno`).
public struct PosixError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Sendable, Hashable {
            case openFailed, readFailed, writeFailed, closeFailed, clockFailed
        }
        private let wrapped: Wrapped

        /// `open(2)` refused the path (missing, not permitted, …).
        public static let openFailed = Code(wrapped: .openFailed)
        /// `read(2)` failed (a directory, an I/O error, …).
        public static let readFailed = Code(wrapped: .readFailed)
        /// `write(2)` failed (a closed pipe, a full disk, …).
        public static let writeFailed = Code(wrapped: .writeFailed)
        /// `close(2)` failed.
        public static let closeFailed = Code(wrapped: .closeFailed)
        /// `clock_gettime(2)` failed.
        public static let clockFailed = Code(wrapped: .clockFailed)

        public var description: String { String(describing: wrapped) }
    }

    public var code: Code
    public var message: String
    /// The `errno` the call set.
    public var errno: Int32

    public init(code: Code, message: String, errno: Int32) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    /// `strerror(errno)`: "No such file or directory".
    public var reason: String { Self.reason(of: errno) }

    /// The system's text for `errno` (`strerror`), for error lines that name the cause.
    public static func reason(of errno: Int32) -> String { String(cString: CPosix_strerror(errno)) }

    public var description: String { "\(code): \(message) (\(reason), errno \(errno))" }
}

/// The one place that reads the shim's return codes: a negative result is `-errno`.
enum SystemCall {
    /// The result of `call`, run again while it is interrupted by a signal (`EINTR`).
    static func retryingInterrupts<Result: FixedWidthInteger & SignedInteger>(
        _ code: PosixError.Code,
        _ what: @autoclosure () -> String,
        _ call: () -> Result
    ) throws(PosixError) -> Result {
        while true {
            let result = call()
            guard result < 0 else { return result }
            let errno = Int32(truncatingIfNeeded: -result)
            if errno == EINTR { continue }
            throw PosixError(code: code, message: what(), errno: errno)
        }
    }
}
