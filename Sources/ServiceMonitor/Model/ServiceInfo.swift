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
        guard case .object(let fields) = value else {
            throw BadInput(option: "--service-info", message: "\(text.quotedForError): must be a JSON object such as {\"name\": \"es-1\"}")
        }
        self.fields = fields
    }

    public init(from decoder: any Decoder) throws {
        fields = try decoder.singleValueContainer().decode([String: JSONValue].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fields)
    }
}
