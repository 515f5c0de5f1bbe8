import CPosix

/// A reading of the real-time clock, and the two ways the project prints one: RFC 3339 for
/// records and log lines, the local time of day for status lines. Without Foundation: start-up
/// time and binary size matter to the CLI.
public struct WallClockTime: Sendable, Hashable {
    /// Seconds since the Unix epoch.
    public var seconds: Int
    /// Nanoseconds into the second, `0..<1_000_000_000`.
    public var nanoseconds: Int

    public init(seconds: Int, nanoseconds: Int) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// Now, by `CLOCK_REALTIME`.
    public static var now: WallClockTime {
        var now = timespec()
        // Fails only for an invalid clock id or pointer; neither can happen here.
        _ = CPosix_clock_gettime_realtime(&now)
        return WallClockTime(seconds: now.tv_sec, nanoseconds: now.tv_nsec)
    }

    /// RFC 3339 in UTC with milliseconds (rounded down): `2026-11-28T12:00:01.042Z`.
    public var rfc3339: String {
        let parts = calendarParts(CPosix_gmtime_r)
        return Self.padded(parts.tm_year + 1900, 4) + "-" + Self.padded(parts.tm_mon + 1, 2) + "-" + Self.padded(parts.tm_mday, 2)
            + "T" + Self.padded(parts.tm_hour, 2) + ":" + Self.padded(parts.tm_min, 2) + ":" + Self.padded(parts.tm_sec, 2)
            + "." + Self.padded(Int32(nanoseconds / 1_000_000), 3) + "Z"
    }

    /// The time of day in the local time zone: `12:00:01`.
    public var localTimeOfDay: String {
        let parts = calendarParts(CPosix_localtime_r)
        return Self.padded(parts.tm_hour, 2) + ":" + Self.padded(parts.tm_min, 2) + ":" + Self.padded(parts.tm_sec, 2)
    }

    private func calendarParts(
        _ convert: (UnsafePointer<time_t>, UnsafeMutablePointer<tm>) -> UnsafeMutablePointer<tm>?
    ) -> tm {
        var seconds = time_t(self.seconds)
        var parts = tm()
        _ = convert(&seconds, &parts)
        return parts
    }

    private static func padded(_ value: Int32, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
