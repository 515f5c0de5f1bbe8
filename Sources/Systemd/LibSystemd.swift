import CSystemd

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// libsystemd, which the shim opens at the first call into it.
public enum SystemdLibrary {
    /// Opens it now, unless it is open already (a failure is reported by the first call).
    ///
    /// For `watch` and `run`, which call it from their start for as long as they run: opened
    /// before they give back the pages start-up read, the pages its loading read (its and its
    /// libraries' symbol and relocation tables) go with them. Opened later, they stayed resident
    /// through the first check round and registration: a `watch` peaked ~0.45 MiB higher.
    public static func open() {
        _ = CSystemd_load()
    }
}

/// The one place Swift calls into libsystemd: every negative return code becomes a
/// ``SystemdError`` here, so nothing above this layer sees raw `-errno` values. The shim opens
/// libsystemd at the first call, so a process that never calls it never maps it.
enum LibSystemd {
    /// Sends `state` to the notify socket. Returns `false` when there is none (`NOTIFY_SOCKET`
    /// unset), which is how libsystemd says "not supervised".
    static func notify(_ state: String, pid: pid_t? = nil) throws(SystemdError) -> Bool {
        let result = state.withCString { cState in
            if let pid {
                return CSystemd_sd_pid_notify(pid, 0, cState)
            }
            return CSystemd_sd_notify(0, cState)
        }
        try check(result, .notifyFailed, "sd_notify(\(quoted(state)))")
        return result > 0
    }

    /// The watchdog timeout systemd expects pings within, or `nil` when the watchdog is off or
    /// meant for another process (`WATCHDOG_PID` names a different pid).
    static func watchdogTimeout() throws(SystemdError) -> Duration? {
        var usec: UInt64 = 0
        let result = CSystemd_sd_watchdog_enabled(0, &usec)
        try check(result, .watchdogQueryFailed, "sd_watchdog_enabled")
        return result > 0 ? .microseconds(Int64(clamping: usec)) : nil
    }

    /// Writes one journal entry from fully formed `NAME=value` fields (values may hold any bytes).
    static func journalSend(_ fields: [[UInt8]]) throws(SystemdError) {
        // One contiguous buffer, so every iovec points into memory that outlives the call.
        var bytes = [UInt8]()
        bytes.reserveCapacity(fields.reduce(0) { $0 + $1.count })
        for field in fields { bytes.append(contentsOf: field) }
        let result = bytes.withUnsafeMutableBytes { buffer -> Int32 in
            var vectors = [iovec]()
            vectors.reserveCapacity(fields.count)
            var offset = 0
            for field in fields {
                vectors.append(iovec(iov_base: buffer.baseAddress.map { $0 + offset }, iov_len: field.count))
                offset += field.count
            }
            return CSystemd_sd_journal_sendv(vectors, Int32(vectors.count))
        }
        try check(result, .journalSendFailed, "sd_journal_sendv with \(fields.count) fields")
    }

    /// Whether the system was booted with systemd as PID 1.
    static var booted: Bool { CSystemd_sd_booted() > 0 }

    private static func check(_ result: Int32, _ code: SystemdError.Code, _ call: String) throws(SystemdError) {
        guard result < 0 else { return }
        // The shim opens libsystemd at the first call; when it cannot, every call says why.
        if -result == ELIBACC, let reason = CSystemd_load_error() {
            throw SystemdError(code: code, message: "\(call) failed: cannot load \(CSYSTEMD_SONAME): \(String(cString: reason))")
        }
        throw SystemdError(code: code, message: "\(call) failed", errno: -result)
    }

    private static func quoted(_ state: String) -> String {
        "\"" + state.replacingNewlines(with: "\\n") + "\""
    }
}

extension String {
    func replacingNewlines(with replacement: String) -> String {
        guard contains(where: \.isNewline) else { return self }
        return split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).joined(separator: replacement)
    }
}
