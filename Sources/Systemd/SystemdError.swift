/// An error raised by the systemd layer: a call into libsystemd failed or was given bad input.
///
/// Modelled on grpc-swift's `RPCError`: a stable ``Code`` to switch on, a human message, and the
/// underlying cause (for libsystemd failures, the `errno` it returned).
public struct SystemdError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Wrapped: Sendable, Hashable {
            case notifyFailed, watchdogQueryFailed, journalSendFailed, invalidArgument
        }
        private let wrapped: Wrapped

        /// `sd_notify`/`sd_pid_notify` returned an error.
        public static let notifyFailed = Code(wrapped: .notifyFailed)
        /// `sd_watchdog_enabled` returned an error (for example a malformed `WATCHDOG_USEC`).
        public static let watchdogQueryFailed = Code(wrapped: .watchdogQueryFailed)
        /// `sd_journal_sendv` returned an error (journald not reachable, entry too large, …).
        public static let journalSendFailed = Code(wrapped: .journalSendFailed)
        /// The caller passed something libsystemd would misread (a newline in a notify value, …).
        public static let invalidArgument = Code(wrapped: .invalidArgument)

        public var description: String { String(describing: wrapped) }
    }

    public var code: Code
    public var message: String
    /// The `errno` libsystemd reported, when the failure came from libsystemd.
    public var errno: Int32?

    public init(code: Code, message: String, errno: Int32? = nil) {
        self.code = code
        self.message = message
        self.errno = errno
    }

    public var description: String {
        if let errno {
            return "\(code): \(message) (\(PosixError.reason(of: errno)), errno \(errno))"
        }
        return "\(code): \(message)"
    }
}

import Posix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
