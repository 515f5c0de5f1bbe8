/// Input the operator must fix: one line naming the bad value, exit 64, and nothing written to
/// etcd (validation always runs before the first etcd call).
public struct BadInput: Error, Sendable, Hashable, CustomStringConvertible {
    /// The option or argument at fault, e.g. `--label`.
    public var option: String
    /// What is wrong, naming the value: `"web/1": only A-Z a-z 0-9 . _ - are allowed`.
    public var message: String

    public init(option: String, message: String) {
        self.option = option
        self.message = message
    }

    public var description: String { "\(option) \(message)" }
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
