public import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where log events go: journald, the console (standard error), or whichever fits (`auto`).
public enum LogTarget: String, Sendable, CaseIterable, CustomStringConvertible {
    /// journald when standard error is connected to the journal (`JOURNAL_STREAM` names the
    /// device and inode of file descriptor 2, as systemd sets for units), else the console.
    case auto
    case journal
    case console

    /// `journal` or `console`: what `auto` means for this process right now.
    public func resolved() -> LogTarget {
        guard self == .auto else { return self }
        return Self.standardErrorIsJournal ? .journal : .console
    }

    /// systemd.exec(5): a unit's stdout/stderr connected to the journal get
    /// `JOURNAL_STREAM=<device>:<inode>`; compare with fd 2 so a redirected stderr counts as not
    /// the journal even when the variable is inherited.
    static var standardErrorIsJournal: Bool {
        guard let value = getenv("JOURNAL_STREAM").map({ String(cString: $0) }) else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(2, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    /// Makes a handler for `label` writing to this target (resolving `auto`).
    public func makeHandler(label: String, identifier: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) -> any LogHandler {
        let sink: StructuredLogHandler.Sink = resolved() == .journal ? .journal : .console
        var handler = StructuredLogHandler(label: label, identifier: identifier, sink: sink, metadataProvider: metadataProvider)
        handler.logLevel = level
        return handler
    }

    /// Routes every `Logger` in the process to this target. Call once, early in `main`.
    public func bootstrap(identifier: String, level: Logger.Level) {
        let target = resolved()
        LoggingSystem.bootstrap { label in target.makeHandler(label: label, identifier: identifier, level: level) }
    }

    public var description: String { rawValue }
}
