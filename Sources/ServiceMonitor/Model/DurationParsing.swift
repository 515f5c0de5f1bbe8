extension Duration {
    /// Parses an operator-written duration: a number with a unit, or several summed —
    /// `500ms`, `10s`, `4m`, `1h`, `1m30s`, `1.5s`. Units: `ms`, `s`, `m`, `h`. A bare number is
    /// refused, since `10` could mean seconds or milliseconds.
    public init(parsing text: String, option: String) throws(BadInput) {
        let bad = BadInput(option: option, message: "\(text.quotedForError): not a duration (use e.g. 500ms, 10s, 4m, 1h, 1m30s)")
        var total = Duration.zero
        var remaining = Substring(text)
        guard !remaining.isEmpty else { throw bad }
        while !remaining.isEmpty {
            let number = remaining.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            remaining = remaining.dropFirst(number.count)
            let unit = remaining.prefix { $0.isASCII && $0.isLetter }
            remaining = remaining.dropFirst(unit.count)
            guard !number.isEmpty, number.filter({ $0 == "." }).count <= 1, let value = Double(number), value.isFinite else { throw bad }
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: throw bad
            }
            let seconds = value * scale
            // Beyond a year is a typo, not a timeout.
            guard seconds <= 365 * 24 * 3600 else { throw bad }
            total += .milliseconds(Int64((seconds * 1000).rounded()))
        }
        self = total
    }

    /// Parses a duration that must be longer than zero, as every timeout, interval and ttl must:
    /// the one place that rule is checked, so the error quotes the value as it was written.
    public init(parsingPositive text: String, option: String) throws(BadInput) {
        self = try Duration(parsing: text, option: option)
        guard self > .zero else { throw BadInput(option: option, message: "\(text.quotedForError): must be longer than zero") }
    }

    /// The shortest exact rendering in the units `init(parsing:)` accepts: `1500ms`, `10s`, `4m`.
    public var operatorDescription: String {
        let milliseconds = components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
        if milliseconds % 3_600_000 == 0, milliseconds > 0 { return "\(milliseconds / 3_600_000)h" }
        if milliseconds % 60_000 == 0, milliseconds > 0 { return "\(milliseconds / 60_000)m" }
        if milliseconds % 1000 == 0 { return "\(milliseconds / 1000)s" }
        return "\(milliseconds)ms"
    }
}
