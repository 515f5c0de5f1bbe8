/// One extra request header of an http(s) check (`--http-header 'Name: value'`).
public struct HTTPCheckHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    /// Parses `Name: value`: the name is an RFC 9110 token, the value (spaces around it dropped)
    /// holds no CR, LF or NUL, so it can neither split the request nor smuggle a second header.
    public init(parsing text: String) throws(BadInput) {
        guard let colon = text.firstIndex(of: ":") else {
            throw .badValue(.invalidValue, option: "--http-header", value: text, "not Name: value (no colon)")
        }
        let name = String(text[..<colon])
        guard !name.isEmpty else {
            throw .badValue(.invalidValue, option: "--http-header", value: text, "the header name before the colon is empty")
        }
        guard name.unicodeScalars.allSatisfy(Self.isTokenCharacter) else {
            throw .badValue(.invalidValue, option: "--http-header", value: text, "the header name may hold only letters, digits and !#$%&'*+-.^_`|~")
        }
        let value = text[text.index(after: colon)...]
        guard !value.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
            throw .badValue(.invalidValue, option: "--http-header", value: text, "the value holds a CR, LF or NUL")
        }
        self.name = name
        self.value = String(value.trimmingBlanks)
    }

    private static func isTokenCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9": true
        case "!", "#", "$", "%", "&", "'", "*", "+", "-", ".", "^", "_", "`", "|", "~": true
        default: false
        }
    }
}

/// The request method of an http(s) check (`--http-method`).
public enum HTTPCheckMethod: String, Sendable, Hashable, CaseIterable {
    case get = "GET"
    case head = "HEAD"

    /// `GET` or `HEAD`, exactly.
    public init(parsing text: String) throws(BadInput) {
        guard let method = Self(rawValue: text) else {
            throw .badValue(.invalidValue, option: "--http-method", value: text, "use GET or HEAD")
        }
        self = method
    }
}

/// What the start of an http(s) check's body must match (`--expect-body`), a Swift regular
/// expression found anywhere in the first ``HTTPProbe`` body bytes read (64 KiB).
public struct BodyPattern: Sendable, Hashable, CustomStringConvertible {
    /// The expression as given.
    public let source: String

    /// Compiles `source` once to refuse an invalid expression up front.
    public init(parsing source: String) throws(BadInput) {
        do {
            _ = try Regex(source)
        } catch {
            throw .badValue(.invalidValue, option: "--expect-body", value: source, "not a valid regular expression")
        }
        self.source = source
    }

    /// Whether the expression is found anywhere in `bytes` (read as UTF-8). `source` was
    /// validated by the initializer.
    func matches(_ bytes: some Collection<UInt8>) -> Bool {
        guard let regex = try? Regex(self.source) else { return false }
        return String(decoding: bytes, as: UTF8.self).contains(regex)
    }

    public var description: String { self.source }
}
