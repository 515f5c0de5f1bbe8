/// What a watcher publishes about its instance besides the address (`--service-info`): a JSON
/// object whose top-level keys `hosts --template` can use (`{transport_port}`).
public struct ServiceInfo: Sendable, Hashable, Encodable {
    public var fields: [String: JSONValue]

    public init(fields: [String: JSONValue]) {
        self.fields = fields
    }

    /// The default when `--service-info` is not given: `{"name": "<service-id>"}`.
    public static func defaultInfo(for id: ServiceID) -> ServiceInfo {
        ServiceInfo(fields: ["name": .string(id.rawValue)])
    }

    /// Parses `--service-info`; anything but a JSON object (RFC 8259, JSONReader) is bad input.
    public init(parsing text: String) throws(BadInput) {
        let value: JSONValue
        do {
            value = try JSONReader.parse(text.utf8)
        } catch {
            let detail = error.reason == JSONReader.SyntaxError.trailingCommaReason ? " (\(error.reason))" : ""
            throw BadInput(option: "--service-info", message: "\(text.quotedForError): not valid JSON\(detail)")
        }
        guard case .object(let fields) = value else {
            throw BadInput(option: "--service-info", message: "\(text.quotedForError): must be a JSON object such as {\"name\": \"es-1\"}")
        }
        self.fields = fields
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fields)
    }
}
