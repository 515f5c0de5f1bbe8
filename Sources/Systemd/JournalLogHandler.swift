public import Logging

/// A swift-log handler that writes structured entries to journald through `sd_journal_sendv`.
///
/// Every metadata key becomes its own journal field (see ``JournalFieldName``), so
/// `journalctl SERVICE_MONITOR_LABEL=web` finds an entry logged with
/// `metadata: ["service_monitor.label": "web"]`. Values travel binary-safe: multi-line text and
/// `=` arrive intact. When journald cannot be reached the entry goes to standard error as a
/// console line instead, so nothing is lost silently.
public struct JournalLogHandler: LogHandler {
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
        do {
            try LibSystemd.journalSend(fields.fields.map { Array("\($0.name)=\($0.value)".utf8) })
        } catch {
            StandardError.write(ConsoleLine(fields: fields, level: event.level).text + " JOURNAL_ERROR=\(ConsoleLine.escaped("\(error)"))\n")
        }
    }
}
