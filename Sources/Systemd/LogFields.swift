public import Logging

/// The structured fields of one log event, named as journald names them. Both sinks of
/// ``StructuredLogHandler`` write these, so the journal and the console carry the same fields.
public struct LogFields: Sendable, Equatable {
    /// `(name, value)` pairs in a stable order: the fixed fields first, then metadata by name.
    public var fields: [(name: String, value: String)]

    public static func == (lhs: LogFields, rhs: LogFields) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    /// Fields journald reserves or that the handler sets itself; metadata that maps onto one of
    /// them is renamed so it cannot overwrite them.
    static let reservedNames: Set<String> = [
        "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
        "LOGGER", "ERROR", "SYSLOG_FACILITY", "SYSLOG_PID", "SYSLOG_TIMESTAMP",
    ]

    public init(
        event: LogEvent,
        label: String,
        identifier: String,
        handlerMetadata: Logger.Metadata,
        metadataProvider: Logger.MetadataProvider?
    ) {
        var fields: [(name: String, value: String)] = [
            ("MESSAGE", event.message.description),
            ("PRIORITY", String(event.level.syslogPriority)),
            ("SYSLOG_IDENTIFIER", identifier),
            ("CODE_FILE", event.file),
            ("CODE_LINE", String(event.line)),
            ("CODE_FUNC", event.function),
            ("LOGGER", label),
        ]
        if let error = event.error {
            fields.append(("ERROR", String(describing: error)))
        }

        var metadata = handlerMetadata
        if let provided = metadataProvider?.get() {
            metadata.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata {
            metadata.merge(explicit) { _, explicit in explicit }
        }
        var flattened: [(name: String, value: String)] = []
        for (key, value) in metadata {
            Self.flatten(value, name: JournalFieldName(metadataKey: key).rawValue, into: &flattened)
        }
        flattened.sort { $0.name < $1.name }
        for field in flattened {
            let name = Self.reservedNames.contains(field.name) ? "METADATA_" + field.name : field.name
            fields.append((name, field.value))
        }
        self.fields = fields
    }

    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value
    }

    /// Nested metadata becomes one field per leaf: `["http": ["status": 200]]` → `HTTP_STATUS=200`,
    /// arrays by index: `["hosts": ["a", "b"]]` → `HOSTS_0=a`, `HOSTS_1=b`.
    private static func flatten(_ value: Logger.MetadataValue, name: String, into fields: inout [(name: String, value: String)]) {
        switch value {
        case .string(let string):
            fields.append((name, string))
        case .stringConvertible(let convertible):
            fields.append((name, convertible.description))
        case .dictionary(let dictionary):
            for (key, nested) in dictionary {
                flatten(nested, name: JournalFieldName.joined(name, JournalFieldName(metadataKey: key).rawValue), into: &fields)
            }
        case .array(let array):
            for (index, nested) in array.enumerated() {
                flatten(nested, name: JournalFieldName.joined(name, String(index)), into: &fields)
            }
        }
    }
}

extension Logger.Level {
    /// syslog(3) priority: 0 emerg … 7 debug. swift-log has no emergency/alert levels.
    public var syslogPriority: Int {
        switch self {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
