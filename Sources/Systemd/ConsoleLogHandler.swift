public import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A swift-log handler that writes one line per event to standard error, carrying the same
/// fields as ``JournalLogHandler`` — for terminals, pipes and tests.
///
///     2026-11-28T12:00:01.042Z NOTICE service-monitor: up · SERVICE_MONITOR_LABEL=web …
public struct ConsoleLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let label: String
    public let identifier: String

    public init(label: String, identifier: String, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.identifier = identifier
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = LogFields(
            event: event,
            label: label,
            identifier: identifier,
            handlerMetadata: metadata,
            metadataProvider: metadataProvider
        )
        StandardError.write(ConsoleLine(fields: fields, level: event.level).text + "\n")
    }
}

/// The one-line rendering of ``LogFields``: time, level, identifier, message, then every other
/// field as `NAME=value` (quoted and escaped when it holds spaces, quotes or control characters).
struct ConsoleLine {
    let text: String

    /// Fields already shown in the line's head.
    private static let headFields: Set<String> = ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER"]

    init(fields: LogFields, level: Logger.Level, time: timespec = .realtimeNow) {
        var text = Self.timestamp(time) + " " + level.rawValue.uppercased()
        text += " " + (fields["SYSLOG_IDENTIFIER"] ?? "") + ": " + (fields["MESSAGE"] ?? "").replacingNewlines(with: "\\n")
        for field in fields.fields where !Self.headFields.contains(field.name) {
            text += " " + field.name + "=" + Self.escaped(field.value)
        }
        self.text = text
    }

    static func escaped(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains { scalar in
            scalar == " " || scalar == "\"" || scalar == "\\" || scalar.properties.generalCategory == .control
        }
        guard needsQuotes else { return value }
        var quoted = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            default:
                if scalar.properties.generalCategory == .control {
                    quoted += "\\u{" + String(scalar.value, radix: 16) + "}"
                } else {
                    quoted.unicodeScalars.append(scalar)
                }
            }
        }
        return quoted + "\""
    }

    /// ISO 8601 UTC with milliseconds, without Foundation (start-up time matters to the CLI).
    static func timestamp(_ time: timespec) -> String {
        var seconds = time.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2)
            + "T" + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2)
            + "." + pad(Int32(time.tv_nsec / 1_000_000), 3) + "Z"
    }
}

extension timespec {
    static var realtimeNow: timespec {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now
    }
}

/// Whole-line writes to file descriptor 2: one `write(2)` per line keeps lines from
/// interleaving when several threads log at once.
enum StandardError {
    static func write(_ line: String) {
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}
