/// A legal journald field name made from a swift-log metadata key.
///
/// journald accepts `[A-Z0-9_]`, at most 64 characters, not starting with a digit, and treats a
/// leading `_` as a trusted field it sets itself. So `service_monitor.label` becomes
/// `SERVICE_MONITOR_LABEL`, `http-status` becomes `HTTP_STATUS`, `2xx` becomes `F_2XX`.
public struct JournalFieldName: Sendable, Hashable, CustomStringConvertible {
    public static let maximumLength = 64

    public let rawValue: String

    public init(metadataKey key: String) {
        var name = ""
        name.unicodeScalars.reserveCapacity(key.unicodeScalars.count)
        for scalar in key.unicodeScalars {
            switch scalar {
            case "a"..."z":
                name.unicodeScalars.append(Unicode.Scalar(scalar.value - 32)!)
            case "A"..."Z", "0"..."9":
                name.unicodeScalars.append(scalar)
            default:
                // Collapse runs of separators so `a..b` and `a.b` read alike.
                if name.unicodeScalars.last != "_" { name.unicodeScalars.append("_") }
            }
        }
        while name.hasPrefix("_") { name.removeFirst() }
        while name.hasSuffix("_") { name.removeLast() }
        if name.isEmpty {
            name = "METADATA"
        } else if let first = name.unicodeScalars.first, ("0"..."9").contains(first) {
            name = "F_" + name
        }
        rawValue = String(name.prefix(Self.maximumLength))
    }

    static func joined(_ parent: String, _ child: String) -> String {
        String((parent + "_" + child).prefix(maximumLength))
    }

    public var description: String { rawValue }
}
