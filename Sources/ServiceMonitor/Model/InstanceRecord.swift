import FoundationEssentials

/// What `watch` stores at `<prefix>/<label>/instances/<service-id>` (SPEC §4).
public struct InstanceRecord: Sendable, Hashable, Encodable {
    public enum State: String, Sendable, Hashable, Encodable {
        case up, down
    }

    public var serviceID: String
    /// The address other instances reach this one at (`--host-ip`).
    public var host: String
    public var state: State
    /// When the instance entered `state`, as RFC 3339 UTC with milliseconds.
    public var since: String
    /// The last check result in words: `HTTP 200 in 3 ms`, `connection refused`.
    public var detail: String
    public var info: ServiceInfo

    public init(serviceID: String, host: String, state: State, since: String, detail: String, info: ServiceInfo) {
        self.serviceID = serviceID
        self.host = host
        self.state = state
        self.since = since
        self.detail = detail
        self.info = info
    }

    enum CodingKeys: String, CodingKey {
        case serviceID = "service_id"
        case host, state, since, detail, info
    }

    public func encoded() throws -> [UInt8] {
        try JSONCoding.encode(self)
    }

    /// Reads a record as `watch` wrote it (JSONReader); other keys are ignored, so a newer
    /// version may add fields.
    public static func decode(_ bytes: some Collection<UInt8>) throws -> InstanceRecord {
        guard case .object(let fields) = try JSONReader.parse(bytes) else { throw NotARecord(field: nil) }
        func string(_ key: CodingKeys) throws(NotARecord) -> String {
            guard case .string(let text)? = fields[key.rawValue] else { throw NotARecord(field: key.rawValue) }
            return text
        }
        guard let state = State(rawValue: try string(.state)) else { throw NotARecord(field: CodingKeys.state.rawValue) }
        guard case .object(let info)? = fields[CodingKeys.info.rawValue] else { throw NotARecord(field: CodingKeys.info.rawValue) }
        return InstanceRecord(
            serviceID: try string(.serviceID), host: try string(.host), state: state,
            since: try string(.since), detail: try string(.detail), info: ServiceInfo(fields: info)
        )
    }

    /// A value that is JSON but not an instance record; `field` is the missing or mistyped one.
    struct NotARecord: Error {
        var field: String?
    }

    /// RFC 3339 UTC with milliseconds, for `since`.
    public static func timestamp() -> String {
        timestamp(Date())
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
