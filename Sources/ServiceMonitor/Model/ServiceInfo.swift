/// What a watcher publishes about its instance besides the address (`--service-info`): a JSON
/// object whose top-level keys `hosts --template` can use (`{transport_port}`).
public struct ServiceInfo: Sendable, Hashable, Codable {
    public var fields: [String: JSONValue]

    public init(fields: [String: JSONValue]) {
        self.fields = fields
    }

    /// The default when `--service-info` is not given: `{"name": "<service-id>"}`.
    public static func defaultInfo(for id: ServiceID) -> ServiceInfo {
        ServiceInfo(fields: ["name": .string(id.rawValue)])
    }

    /// Parses `--service-info`; anything but a JSON object is bad input.
    public init(parsing text: String) throws(BadInput) {
        let value: JSONValue
        do {
            value = try JSONCoding.decode(JSONValue.self, from: Array(text.utf8))
        } catch {
            throw BadInput(option: "--service-info", message: "\(text.quotedForError): not valid JSON")
        }
        if Self.hasTrailingComma(text) {
            throw BadInput(option: "--service-info", message: "\(text.quotedForError): not valid JSON (a comma before } or ])")
        }
        guard case .object(let fields) = value else {
            throw BadInput(option: "--service-info", message: "\(text.quotedForError): must be a JSON object such as {\"name\": \"es-1\"}")
        }
        self.fields = fields
    }

    /// Foundation's decoder takes `{"a": 1,}`, which JSON (RFC 8259) and the tools that read the
    /// record back (etcdctl users' `jq`) do not: find a `,` followed by `}` or `]` outside strings.
    static func hasTrailingComma(_ text: String) -> Bool {
        var inString = false, escaped = false, previous: UInt8?
        for byte in text.utf8 {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                continue
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if previous == UInt8(ascii: ",") { return true }
            case UInt8(ascii: "\""):
                inString = true
            default:
                break
            }
            previous = byte
        }
        return false
    }

    public init(from decoder: any Decoder) throws {
        fields = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fields)
    }
}
