/// A label or service id: the one piece of caller input that becomes part of an etcd key, so it is
/// restricted to `[A-Za-z0-9._-]{1,128}` and may not be `.` or `..` — no value can reach outside
/// `<prefix>/<label>/`.
enum NameRules {
    static let maximumLength = 128

    static func validate(_ value: String, option: String) throws(BadInput) {
        guard !value.isEmpty else {
            throw BadInput(option: option, message: "\"\": must not be empty")
        }
        guard value.unicodeScalars.count <= maximumLength else {
            throw BadInput(option: option, message: "\(value.prefix(32).description.quotedForError)…: longer than \(maximumLength) characters")
        }
        guard value != ".", value != ".." else {
            throw BadInput(option: option, message: "\(value.quotedForError): . and .. are not allowed")
        }
        let allowed = value.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": true
            default: false
            }
        }
        guard allowed else {
            throw BadInput(option: option, message: "\(value.quotedForError): only A-Z a-z 0-9 . _ - are allowed")
        }
    }
}

/// A service label (`--label`). Labels are case-insensitive (docs/commands.md): `Web` and
/// `web` are one label, stored lowercase.
public struct Label: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    public init(_ value: String) throws(BadInput) {
        try NameRules.validate(value, option: "--label")
        rawValue = value.lowercased()
    }

    public var description: String { rawValue }
}

/// One instance of a service (`--service-id`), unique within its label. Case is kept.
public struct ServiceID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(_ value: String) throws(BadInput) {
        try NameRules.validate(value, option: "--service-id")
        rawValue = value
    }

    public static func < (lhs: ServiceID, rhs: ServiceID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { rawValue }
}
