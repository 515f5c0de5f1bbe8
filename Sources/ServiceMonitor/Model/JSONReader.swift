/// The one JSON reader in service-monitor: strict RFC 8259 over UTF-8 bytes, into `JSONValue`.
///
/// Used for `--service-info` and for every record read back from etcd. Foundation's
/// JSONDecoder cost ~63 000 instructions per instance record (a `hosts` of 10 000 instances
/// spent two thirds of its CPU there) and accepts `{"a": 1,}`; this reads the same record in
/// ~8 600 (``MemberReader``: only the values the record keeps are built) and rejects what
/// RFC 8259 rejects:
/// - anything but one value surrounded by optional space, tab, LF or CR;
/// - a comma before `}` or `]` (reported as such, the likeliest hand-typed mistake);
/// - numbers with leading zeros, `+`, a bare `.` or exponent, `NaN`/`Infinity`, or too large
///   for a Double;
/// - control characters in strings, unknown escapes, a `\u` surrogate that is not half of a
///   pair, and bytes that are not UTF-8;
/// - nesting deeper than `maximumDepth` (512, Foundation's limit too).
///
/// Duplicate keys in an object: the first one wins, as with Foundation's JSONDecoder before, so
/// a `--service-info` that repeats a key is stored as it was (RFC 8259 leaves the choice to the
/// reader; `jq` keeps the last). service-monitor never writes a record with repeated keys.
enum JSONReader {
    static let maximumDepth = 512

    struct SyntaxError: Error, Sendable, Equatable {
        /// What is wrong, in words; `offset` is where, counted in bytes from 0.
        var reason: String
        var offset: Int

        static let trailingCommaReason = "a comma before } or ]"
    }

    static func parse(_ bytes: some Collection<UInt8>) throws(SyntaxError) -> JSONValue {
        let result: Result<JSONValue, SyntaxError>? = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(SyntaxError) in try parse(buffer: buffer) }
        }
        if let result { return try result.get() }
        let copy = Array(bytes)
        return try copy.withUnsafeBufferPointer { buffer throws(SyntaxError) in try parse(buffer: buffer) }
    }

    /// Reads a text that must be one object member by member, as its caller asks: an instance
    /// record read this way builds neither the object nor a String per key, only the values it
    /// takes. After each ``nextKey()`` exactly one of ``string()``, ``object()`` and ``skip()``
    /// reads its value; ``finish()`` judges whatever was left unread, and the rest of the text.
    struct MemberReader {
        fileprivate var parser: Parser
        /// The object's own nesting depth (1 at the top); its values are one deeper.
        private let depth: Int
        private var started = false
        private var ended = false

        /// A reader of the object `bytes` hold; `nil` when they are JSON of another kind.
        init?(object bytes: UnsafeBufferPointer<UInt8>) throws(SyntaxError) {
            var parser = Parser(bytes: bytes)
            parser.skipWhitespace()
            guard parser.current == UInt8(ascii: "{") else {
                // Still the whole text judged: a value that is not an object is no syntax error.
                _ = try JSONReader.parse(buffer: bytes)
                return nil
            }
            self.init(at: parser, depth: 1)
        }

        /// A reader of the object at `parser`'s position (its `{`), nested `depth` deep.
        fileprivate init(at parser: Parser, depth: Int) {
            self.parser = parser
            self.depth = depth
        }

        /// Reads the members left and checks that nothing but space follows the object.
        mutating func finish() throws(SyntaxError) {
            while try nextKey() != nil { try skip() }
            parser.skipWhitespace()
            guard parser.position == parser.bytes.count else { throw parser.error("text after the value") }
        }

        /// The next member's key, leaving the reader at its value; `nil` after the last member.
        mutating func nextKey() throws(SyntaxError) -> Key? {
            guard !ended else { return nil }
            if !started {
                started = true
                parser.position += 1  // {
                parser.skipWhitespace()
                if parser.current == UInt8(ascii: "}") {
                    parser.position += 1
                    ended = true
                    return nil
                }
            } else {
                parser.skipWhitespace()
                switch parser.current {
                case UInt8(ascii: ","):
                    parser.position += 1
                    parser.skipWhitespace()
                    if parser.current == UInt8(ascii: "}") { throw parser.error(SyntaxError.trailingCommaReason) }
                case UInt8(ascii: "}"):
                    parser.position += 1
                    ended = true
                    return nil
                default:
                    throw parser.error("a ',' or '}' must follow an object member")
                }
            }
            guard parser.current == UInt8(ascii: "\"") else { throw parser.error("an object key must be a string") }
            let key = try parser.key()
            parser.skipWhitespace()
            guard parser.current == UInt8(ascii: ":") else { throw parser.error("a ':' must follow an object key") }
            parser.position += 1
            parser.skipWhitespace()
            return key
        }

        /// The value if it is a string; any other value is judged, skipped and gives `nil`.
        mutating func string() throws(SyntaxError) -> String? {
            guard parser.current == UInt8(ascii: "\"") else {
                try skip()
                return nil
            }
            return try parser.string()
        }

        /// The value if it is an object; any other value is judged, skipped and gives `nil`.
        mutating func object() throws(SyntaxError) -> [String: JSONValue]? {
            guard parser.current == UInt8(ascii: "{"), case .object(let object) = try parser.object(depth: depth + 1) else {
                try skip()
                return nil
            }
            return object
        }

        /// The value, whatever it is.
        mutating func value() throws(SyntaxError) -> JSONValue {
            try parser.value(depth: depth + 1)
        }

        /// Judges the value as ``value()`` would and moves past it, building nothing of it.
        mutating func skip() throws(SyntaxError) {
            try parser.skipValue(depth: depth + 1)
        }

        /// Whether the value is a string; judged and skipped either way, built never.
        mutating func skipString() throws(SyntaxError) -> Bool { try skip(opening: UInt8(ascii: "\"")) }

        /// Whether the value is an object; judged and skipped either way, built never.
        mutating func skipObject() throws(SyntaxError) -> Bool { try skip(opening: UInt8(ascii: "{")) }

        /// Whether the value starts with `opening`, after skipping it.
        private mutating func skip(opening: UInt8) throws(SyntaxError) -> Bool {
            let opens = parser.current == opening
            try skip()
            return opens
        }
    }

    /// An object key as written: compared byte by byte, unless it has escapes.
    struct Key {
        fileprivate let bytes: UnsafeBufferPointer<UInt8>
        /// The key decoded, for one written with escapes (`"ho\u0073t"` is `host`).
        fileprivate let unescaped: String?

        /// The key as text (its bytes were judged UTF-8 when it was read).
        var text: String { unescaped ?? String(decoding: bytes, as: UTF8.self) }

        func `is`(_ name: StaticString) -> Bool {
            if let unescaped { return unescaped == name.description }
            guard bytes.count == name.utf8CodeUnitCount else { return false }
            let expected = name.utf8Start
            for index in bytes.indices where bytes[index] != expected[index] { return false }
            return true
        }
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>) throws(SyntaxError) -> JSONValue {
        var parser = Parser(bytes: buffer)
        parser.skipWhitespace()
        let value = try parser.value(depth: 1)
        parser.skipWhitespace()
        guard parser.position == buffer.count else { throw parser.error("text after the value") }
        return value
    }

    fileprivate struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var position = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        func error(_ reason: String) -> SyntaxError {
            SyntaxError(reason: reason, offset: position)
        }

        var current: UInt8? {
            position < bytes.count ? bytes[position] : nil
        }

        mutating func skipWhitespace() {
            while position < bytes.count {
                switch bytes[position] {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): position += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
            guard let byte = current else { throw error("the text ends where a value should start") }
            switch byte {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("not the start of a value")
            }
        }

        mutating func literal(_ word: StaticString) throws(SyntaxError) {
            let count = word.utf8CodeUnitCount
            guard bytes.count - position >= count else { throw error("not a value") }
            for index in 0..<count where bytes[position + index] != word.utf8Start[index] {
                throw error("not a value")
            }
            position += count
        }

        /// Judges the value at `position` exactly as ``value(depth:)`` does (the same errors at
        /// the same offsets) and leaves `position` after it, without building it: only strings
        /// with escapes, and numbers, are decoded on the way.
        mutating func skipValue(depth: Int) throws(SyntaxError) {
            switch current {
            case UInt8(ascii: "{"):
                guard depth <= JSONReader.maximumDepth else { throw error("nested deeper than \(JSONReader.maximumDepth)") }
                var reader = MemberReader(at: self, depth: depth)
                while try reader.nextKey() != nil { try reader.skip() }
                self = reader.parser
            case UInt8(ascii: "["):
                try forEachElement(depth: depth) { (parser: inout Parser) throws(SyntaxError) in try parser.skipValue(depth: depth + 1) }
            case UInt8(ascii: "\""):
                _ = try key()  // a string judged as a key is: as its bytes, when it has no escapes
            default:
                _ = try value(depth: depth)  // literals and numbers hold nothing to allocate
            }
        }

        mutating func object(depth: Int) throws(SyntaxError) -> JSONValue {
            guard depth <= JSONReader.maximumDepth else { throw error("nested deeper than \(JSONReader.maximumDepth)") }
            // Members first, then one dictionary of the right size: growing it member by member
            // rehashed every key several times.
            var members: [(String, JSONValue)] = []
            members.reserveCapacity(8)
            var reader = MemberReader(at: self, depth: depth)
            while let key = try reader.nextKey() { members.append((key.text, try reader.value())) }
            self = reader.parser
            return .object(Dictionary(members, uniquingKeysWith: { first, _ in first }))
        }

        mutating func array(depth: Int) throws(SyntaxError) -> JSONValue {
            var elements: [JSONValue] = []
            try forEachElement(depth: depth) { (parser: inout Parser) throws(SyntaxError) in elements.append(try parser.value(depth: depth + 1)) }
            return .array(elements)
        }

        /// The array at `position` (its `[`), `element` reading each element; leaves `position`
        /// after the `]`.
        mutating func forEachElement(depth: Int, _ element: (inout Parser) throws(SyntaxError) -> Void) throws(SyntaxError) {
            guard depth <= JSONReader.maximumDepth else { throw error("nested deeper than \(JSONReader.maximumDepth)") }
            position += 1  // [
            skipWhitespace()
            if current == UInt8(ascii: "]") {
                position += 1
                return
            }
            while true {
                try element(&self)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","):
                    position += 1
                    skipWhitespace()
                    if current == UInt8(ascii: "]") { throw error(SyntaxError.trailingCommaReason) }
                case UInt8(ascii: "]"):
                    position += 1
                    return
                default:
                    throw error("a ',' or ']' must follow an array element")
                }
            }
        }

        /// An object key at `position` (its opening quote), as its bytes when it has no escapes;
        /// leaves `position` after the closing quote.
        mutating func key() throws(SyntaxError) -> Key {
            let start = position + 1
            if let plain = try plainString() {
                let raw = UnsafeBufferPointer(rebasing: bytes[start..<plain.end])
                position = plain.end  // where a failure is reported, as for any string
                if !plain.isASCII { _ = try validated(raw) }
                position += 1
                return Key(bytes: raw, unescaped: nil)
            }
            let text = try string()
            return Key(bytes: UnsafeBufferPointer(rebasing: bytes[start..<start]), unescaped: text)
        }

        /// Where the string at `position` (its opening quote) closes and whether it is all
        /// ASCII, if it has no escapes; `nil` at its first backslash (or its end, unclosed), for
        /// ``string()`` to decode. One pass, so the text is not walked again to be judged.
        func plainString() throws(SyntaxError) -> (end: Int, isASCII: Bool)? {
            var index = position + 1, bits: UInt8 = 0
            let count = bytes.count
            // Eight bytes at a time while none is a quote, a backslash or a control character
            // (the byte loop below finds which one is): scanning strings is the largest part of
            // reading a record. The tests (x - 0x01…) & ~x & 0x80… (a zero byte) and
            // (x - 0x20…) & ~x & 0x80… (a byte below 0x20) are exact about whether there is one.
            if let base = bytes.baseAddress {
                let ones: UInt64 = 0x0101_0101_0101_0101, highs = ones &* 0x80
                var wordBits: UInt64 = 0
                while count - index >= 8 {
                    let word = UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)
                    let quotes = word ^ (ones &* UInt64(UInt8(ascii: "\""))), backslashes = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
                    let stops = (quotes &- ones) & ~quotes | (backslashes &- ones) & ~backslashes | (word &- ones &* 0x20) & ~word
                    let found = stops & highs
                    if found != 0 {
                        // The lowest flagged byte is the first stop (a borrow can flag bytes
                        // above a real one, never below): step to it, keeping the bytes before.
                        let before = found.trailingZeroBitCount / 8
                        wordBits |= word & ((1 &<< UInt64(before * 8)) &- 1)
                        index += before
                        break
                    }
                    wordBits |= word
                    index += 8
                }
                if wordBits & highs != 0 { bits = 0x80 }
            }
            while index < count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") { return (index, bits < 0x80) }
                if byte == UInt8(ascii: "\\") { return nil }
                if byte < 0x20 {
                    var at = self
                    at.position = index
                    throw at.error("a control character in a string (escape it)")
                }
                bits |= byte
                index += 1
            }
            return nil
        }

        /// A string at `position` (its opening quote); leaves `position` after the closing one.
        mutating func string() throws(SyntaxError) -> String {
            // Fast path: no escapes, which is every string service-monitor writes itself.
            if let plain = try plainString() {
                let text = UnsafeBufferPointer(rebasing: bytes[(position + 1)..<plain.end])
                position = plain.end
                defer { position += 1 }
                return plain.isASCII ? String(decoding: text, as: UTF8.self) : try validated(text)
            }
            position += 1  // "
            let start = position
            while position < bytes.count, bytes[position] != UInt8(ascii: "\\") { position += 1 }
            var scalars = Array(bytes[start..<position])
            while true {
                guard let byte = current else { throw error("a string without its closing quote") }
                switch byte {
                case UInt8(ascii: "\""):
                    position += 1
                    return try scalars.withUnsafeBufferPointer { buffer throws(SyntaxError) in try validated(buffer) }
                case UInt8(ascii: "\\"):
                    position += 1
                    guard let escape = current else { throw error("a string without its closing quote") }
                    position += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scalars.append(escape)
                    case UInt8(ascii: "b"): scalars.append(0x08)
                    case UInt8(ascii: "f"): scalars.append(0x0C)
                    case UInt8(ascii: "n"): scalars.append(0x0A)
                    case UInt8(ascii: "r"): scalars.append(0x0D)
                    case UInt8(ascii: "t"): scalars.append(0x09)
                    case UInt8(ascii: "u"): scalars.append(contentsOf: try unicodeEscape())
                    default:
                        position -= 1
                        throw error("an unknown escape \\\(Character(Unicode.Scalar(escape)))")
                    }
                default:
                    if byte < 0x20 { throw error("a control character in a string (escape it)") }
                    scalars.append(byte)
                    position += 1
                }
            }
        }

        /// After `\u`: four hex digits, and for a high surrogate the `\uDC00`-`\uDFFF` after it.
        mutating func unicodeEscape() throws(SyntaxError) -> String.UTF8View {
            var code = try hexQuad()
            if (0xDC00...0xDFFF).contains(code) { throw error("a \\u escape of a lone low surrogate") }
            if (0xD800...0xDBFF).contains(code) {
                guard bytes.count - position >= 2, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                    throw error("a \\u escape of a high surrogate without its low half")
                }
                position += 2
                let low = try hexQuad()
                guard (0xDC00...0xDFFF).contains(low) else { throw error("a \\u escape of a high surrogate without its low half") }
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
            }
            // Every code point left is a valid scalar: surrogates were paired above.
            return String(Character(Unicode.Scalar(code)!)).utf8
        }

        mutating func hexQuad() throws(SyntaxError) -> UInt32 {
            guard bytes.count - position >= 4 else { throw error("a \\u escape needs four hex digits") }
            var code: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[position]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw error("a \\u escape needs four hex digits")
                }
                code = code << 4 | UInt32(digit)
                position += 1
            }
            return code
        }

        /// The bytes as a String, if they are UTF-8. `String(validating:)` is generic and cost
        /// more than the rest of the parse; `String(decoding:)` repairs bad bytes with U+FFFD, so
        /// text that decodes back to the same bytes was valid.
        func validated(_ utf8: UnsafeBufferPointer<UInt8>) throws(SyntaxError) -> String {
            let text = String(decoding: utf8, as: UTF8.self)
            if utf8.allSatisfy({ $0 < 0x80 }) { return text }
            guard text.utf8.elementsEqual(utf8) else { throw error("a string that is not UTF-8") }
            return text
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, as a finite Double.
        mutating func number() throws(SyntaxError) -> Double {
            let start = position
            if current == UInt8(ascii: "-") { position += 1 }
            guard let first = current, isDigit(first) else { throw error("a number without digits") }
            position += 1
            if first == UInt8(ascii: "0"), let next = current, isDigit(next) { throw error("a number with a leading zero") }
            skipDigits()
            if current == UInt8(ascii: ".") {
                position += 1
                guard let digit = current, isDigit(digit) else { throw error("a number without digits after '.'") }
                skipDigits()
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                position += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
                guard let digit = current, isDigit(digit) else { throw error("a number without digits in its exponent") }
                skipDigits()
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
            guard let number = Double(text), number.isFinite else {
                position = start
                throw error("a number too large for a double")
            }
            return number
        }

        func isDigit(_ byte: UInt8) -> Bool {
            byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
        }

        mutating func skipDigits() {
            while let byte = current, isDigit(byte) { position += 1 }
        }
    }
}
