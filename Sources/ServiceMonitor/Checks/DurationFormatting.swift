extension Duration {
    /// Compact human text for check details: `0.4 ms`, `3 ms`, `250 ms`, `2 s`, `1.5 s`.
    var checkDetailText: String {
        let milliseconds = self.totalMilliseconds
        if milliseconds < 0.95 {
            return "\(Self.oneDecimal(milliseconds)) ms"
        }
        if milliseconds.rounded() < 1000 {
            return "\(Int(milliseconds.rounded())) ms"
        }
        return "\(Self.oneDecimal(milliseconds / 1000)) s"
    }

    /// The duration in (fractional) milliseconds.
    var totalMilliseconds: Double {
        let (seconds, attoseconds) = self.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }

    /// The duration in whole microseconds (for journald's `…_LATENCY_USEC`).
    var totalMicroseconds: Int64 {
        let (seconds, attoseconds) = self.components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }

    /// One decimal, dropping a trailing `.0`: 1.0 → "1", 1.25 → "1.3" (no Foundation formatting).
    private static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
    }
}
