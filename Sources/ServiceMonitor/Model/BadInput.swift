/// Input the operator must fix: one line naming the bad value, and nothing written to the store
/// (validation always runs before the first store call). A value that is wrong in itself (a
/// malformed URL, a zero duration, a bad label) exits 64; a file the operator named that cannot
/// be used (an unreadable CA bundle or password file) exits 78.
///
/// Modelled on grpc-swift's `RPCError`: match on ``code``; ``description`` is the line for
/// people and always names the option and the offending value, e.g.
/// `--monitor-url "ftp://x": unsupported scheme "ftp" (use http, https, tcp, grpc or grpcs)`.
public struct BadInput: Error, Sendable, CustomStringConvertible {
    /// What kind of problem this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Wrapped: String, Hashable, Sendable {
            case invalidValue
            case malformedURL
            case unsupportedScheme
            case missingHost
            case invalidPort
            case whitespaceInURL
            case invalidExpectedStatus
            case unreadableFile
            case unreadableTrustRoots
            case incompleteConfiguration
        }

        private let wrapped: Wrapped
        private init(_ wrapped: Wrapped) { self.wrapped = wrapped }

        public var description: String { self.wrapped.rawValue }

        /// The value is not one the option accepts (the message says what would be).
        public static let invalidValue = Self(.invalidValue)
        /// `--monitor-url` does not have the shape `scheme://host[:port][/path][?query]`.
        public static let malformedURL = Self(.malformedURL)
        /// `--monitor-url`'s scheme is not `http`, `https` or `tcp`.
        public static let unsupportedScheme = Self(.unsupportedScheme)
        /// `--monitor-url` names no host.
        public static let missingHost = Self(.missingHost)
        /// `--monitor-url`'s port is missing (required for `tcp://`), not a number, or outside 1–65535.
        public static let invalidPort = Self(.invalidPort)
        /// `--monitor-url` contains whitespace or control characters (usually a quoting mistake).
        public static let whitespaceInURL = Self(.whitespaceInURL)
        /// `--expect-status` is not a list of status codes and ranges within 100–599.
        public static let invalidExpectedStatus = Self(.invalidExpectedStatus)
        /// A file named by an option or variable cannot be read (exit 78).
        public static let unreadableFile = Self(.unreadableFile)
        /// The CA file to trust cannot be read or holds no PEM certificate (exit 78).
        public static let unreadableTrustRoots = Self(.unreadableTrustRoots)
        /// Settings that only work together were given apart, e.g. `--cert` without `--key` (exit 78).
        public static let incompleteConfiguration = Self(.incompleteConfiguration)

        /// Whether this is a problem with the host's configuration rather than with a value.
        var isConfiguration: Bool {
            [.unreadableFile, .unreadableTrustRoots, .incompleteConfiguration].contains(self)
        }
    }

    /// What kind of problem this is.
    public var code: Code
    /// The option, argument or environment variable at fault, e.g. `--label`.
    public var option: String
    /// What is wrong, naming the value: `"web/1": only A-Z a-z 0-9 . _ - are allowed`.
    public var message: String
    /// The underlying error, if another layer reported one.
    public var cause: (any Error)?

    public init(_ code: Code = .invalidValue, option: String, message: String, cause: (any Error)? = nil) {
        self.code = code
        self.option = option
        self.message = message
        self.cause = cause
    }

    /// `<option> "<value>": <reason>` — the shape most messages take, with the value quoted and
    /// escaped so stray whitespace or control characters are visible.
    public static func badValue(_ code: Code, option: String, value: String, _ reason: String, cause: (any Error)? = nil) -> Self {
        BadInput(code, option: option, message: "\(value.quotedForError): \(reason)", cause: cause)
    }

    public var description: String {
        guard let cause else { return "\(option) \(message)" }
        return "\(option) \(message) (\(cause))"
    }
}

extension BadInput: ExitStatusConvertible {
    public var exitStatus: ExitStatus { code.isConfiguration ? .configuration : .usage }
}

extension String {
    /// The value as shown in an error line: quoted, with control characters escaped, so an empty
    /// value, spaces or a newline are visible; a long value (a pasted JSON document) is cut so the
    /// line stays readable.
    public var quotedForError: String {
        guard count > 100 else { return debugDescription }
        return "\(prefix(64).description.debugDescription)… (\(count) characters)"
    }
}

extension Substring {
    /// Without leading and trailing spaces, for list items written `a, b`. Stays a `Substring`:
    /// a version through `reversed()` made the runtime build generic collection types, whose
    /// first conformance checks each scan every conformance record of the binary (~4 % of a
    /// one-shot `hosts`).
    public func trimmingSpaces() -> Substring {
        var result = self
        while result.first == " " { result = result.dropFirst() }
        while result.last == " " { result = result.dropLast() }
        return result
    }

    /// Where `word` first occurs, its bytes compared as UTF-8 (for ASCII words, what
    /// `firstRange(of:)` finds). The standard library's `firstRange(of:)` and `contains(_:)` for
    /// strings run _StringProcessing's generic searcher: ~36 000 instructions a call, and its
    /// first use scans every conformance record of the binary and maps code nothing else at
    /// start-up touches.
    public func firstRange(ofBytes word: String) -> Range<Index>? {
        let text = utf8, pattern = word.utf8
        guard let head = pattern.first else { return startIndex..<startIndex }
        var from = text.startIndex
        while let candidate = text[from...].firstIndex(of: head) {
            if text[candidate...].starts(with: pattern) {
                return candidate..<text.index(candidate, offsetBy: pattern.count)
            }
            from = text.index(after: candidate)
        }
        return nil
    }
}

extension String {
    /// ``Substring/firstRange(ofBytes:)`` over the whole string.
    public func firstRange(ofBytes word: String) -> Range<Index>? {
        self[...].firstRange(ofBytes: word)
    }
}
