import CPosix

/// An open file descriptor, and the EINTR-safe loops over `read(2)` and `write(2)`.
public struct FileDescriptor: Sendable, Hashable {
    public let rawValue: Int32

    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    public static let standardOutput = FileDescriptor(rawValue: 1)
    public static let standardError = FileDescriptor(rawValue: 2)

    /// Opens `path` read-only (close-on-exec).
    public static func open(reading path: String) throws(PosixError) -> FileDescriptor {
        let raw = try SystemCall.retryingInterrupts(.openFailed, "open(\(path.debugDescription))") {
            CPosix_open_reading(path)
        }
        return FileDescriptor(rawValue: raw)
    }

    /// Opens `path` for appending, creating it (mode 0644) when missing (close-on-exec).
    public static func open(appendingTo path: String) throws(PosixError) -> FileDescriptor {
        let raw = try SystemCall.retryingInterrupts(.openFailed, "open(\(path.debugDescription))") {
            CPosix_open_appending(path)
        }
        return FileDescriptor(rawValue: raw)
    }

    /// Closes the descriptor. Not retried on `EINTR`: on Linux the descriptor is gone either way.
    public func close() throws(PosixError) {
        let result = CPosix_close(rawValue)
        guard result < 0 else { return }
        throw PosixError(code: .closeFailed, message: "close(\(rawValue))", errno: -result)
    }

    /// Writes all of `text`, resuming after short writes and `EINTR`. Text that fits one
    /// `write(2)` goes in one, so lines written by several threads at once do not interleave.
    public func write(_ text: String) throws(PosixError) {
        var text = text
        // withUTF8 rethrows untyped errors; a Result carries the typed one out.
        try text.withUTF8 { bytes in
            Result { () throws(PosixError) in try write(UnsafeRawBufferPointer(bytes)) }
        }.get()
    }

    /// Writes all of `bytes`, resuming after short writes and `EINTR`.
    public func write(_ bytes: UnsafeRawBufferPointer) throws(PosixError) {
        guard let start = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            offset += try SystemCall.retryingInterrupts(.writeFailed, "write to file descriptor \(rawValue)") {
                CPosix_write(rawValue, start + offset, bytes.count - offset)
            }
        }
    }

    /// Fills `buffer` from `offset` on, resuming after short reads and `EINTR`; fewer bytes (the
    /// count returned) only at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws(PosixError) -> Int {
        guard let start = buffer.baseAddress else { return 0 }
        var filled = 0
        while filled < buffer.count {
            let count = try SystemCall.retryingInterrupts(.readFailed, "read from file descriptor \(rawValue)") {
                CPosix_pread(rawValue, start + filled, buffer.count - filled, off_t(offset + filled))
            }
            if count == 0 { break }
            filled += count
        }
        return filled
    }

    /// Everything from the current offset to the end of the file, resuming after `EINTR`.
    public func readToEnd() throws(PosixError) -> [UInt8] {
        var contents = [UInt8]()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
        defer { buffer.deallocate() }
        while true {
            let count = try SystemCall.retryingInterrupts(.readFailed, "read from file descriptor \(rawValue)") {
                CPosix_read(rawValue, buffer.baseAddress, buffer.count)
            }
            if count == 0 { return contents }
            contents.append(contentsOf: buffer[..<count])
        }
    }
}

/// Whole-file reads and appends, over ``FileDescriptor``.
public enum File {
    /// The whole contents of the file at `path`.
    public static func contents(atPath path: String) throws(PosixError) -> [UInt8] {
        let file = try FileDescriptor.open(reading: path)
        defer { try? file.close() }
        do {
            return try file.readToEnd()
        } catch {
            throw PosixError(code: error.code, message: "read(\(path.debugDescription))", errno: error.errno)
        }
    }

    /// The whole file at `path` as UTF-8 text (invalid bytes become U+FFFD).
    public static func text(atPath path: String) throws(PosixError) -> String {
        try String(decoding: contents(atPath: path), as: UTF8.self)
    }

    /// Whether `path` is a regular file this process may execute (a directory is not).
    public static func isExecutable(atPath path: String) -> Bool {
        CPosix_is_executable_file(path) == 1
    }

    /// Appends `text` to the file at `path` (created when missing) in one `write(2)` when it fits.
    public static func append(_ text: String, toPath path: String) throws(PosixError) {
        let file = try FileDescriptor.open(appendingTo: path)
        defer { try? file.close() }
        try file.write(text)
    }
}
