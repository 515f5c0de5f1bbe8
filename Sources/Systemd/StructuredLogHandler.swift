public import Logging
import Posix

/// The swift-log handler: turns each event into ``LogFields`` and hands them to its ``Sink``,
/// so the journal and the console carry the same fields.
///
/// Every metadata key becomes its own field (see ``JournalFieldName``), so
/// `journalctl SERVICE_MONITOR_LABEL=web` finds an entry logged with
/// `metadata: ["service_monitor.label": "web"]`.
public struct StructuredLogHandler: LogHandler {
    /// Where the fields of an event go.
    public enum Sink: Sendable, Hashable {
        /// journald, through `sd_journal_sendv`. Values travel binary-safe: multi-line text and
        /// `=` arrive intact. When journald cannot be reached the entry goes to standard error as
        /// a console line ending in `JOURNAL_ERROR=…`, so nothing is lost silently.
        case journal
        /// One line per event on standard error, for terminals, pipes and tests:
        ///
        ///     2026-11-28T12:00:01.042Z NOTICE service-monitor: up · SERVICE_MONITOR_LABEL=web …
        case console
    }

    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let label: String
    public let identifier: String
    public let sink: Sink

    public init(label: String, identifier: String, sink: Sink, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.identifier = identifier
        self.sink = sink
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
        switch sink {
        case .journal:
            do {
                try LibSystemd.journalSend(fields.fields.map { Array("\($0.name)=\($0.value)".utf8) })
            } catch {
                writeToStandardError(ConsoleLine(fields: fields, level: event.level).text + " JOURNAL_ERROR=\(ConsoleLine.escaped("\(error)"))\n")
            }
        case .console:
            writeToStandardError(ConsoleLine(fields: fields, level: event.level).text + "\n")
        }
    }

    /// One `write(2)` per line keeps lines from interleaving when several threads log at once.
    /// A standard error that cannot be written leaves nowhere to report that.
    private func writeToStandardError(_ line: String) {
        try? FileDescriptor.standardError.write(line)
    }
}

/// The one-line rendering of ``LogFields``: time, level, identifier, message, then every other
/// field as `NAME=value` (quoted and escaped when it holds spaces, quotes or control characters).
struct ConsoleLine {
    let text: String

    /// Fields already shown in the line's head.
    private static let headFields: Set<String> = ["MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER"]

    init(fields: LogFields, level: Logger.Level, time: WallClockTime = .now) {
        var text = time.rfc3339 + " " + level.rawValue.uppercased()
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
}
