import FoundationEssentials
import Posix

/// What `watch` stores at `<prefix>/<label>/instances/<service-id>` (docs/store-layout.md).
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
        // One pass over the members rather than a lookup per field: hashing the keys again was
        // a fifth of the cost of reading a record.
        var serviceID: String?, host: String?, state: State?, since: String?, detail: String?, info: ServiceInfo?
        for (key, value) in fields {
            switch (key, value) {
            case ("service_id", .string(let text)): serviceID = text
            case ("host", .string(let text)): host = text
            case ("state", .string(let text)): state = State(rawValue: text)
            case ("since", .string(let text)): since = text
            case ("detail", .string(let text)): detail = text
            case ("info", .object(let object)): info = ServiceInfo(fields: object)
            default: continue
            }
        }
        guard let serviceID else { throw NotARecord(field: CodingKeys.serviceID.rawValue) }
        guard let host else { throw NotARecord(field: CodingKeys.host.rawValue) }
        guard let state else { throw NotARecord(field: CodingKeys.state.rawValue) }
        guard let since else { throw NotARecord(field: CodingKeys.since.rawValue) }
        guard let detail else { throw NotARecord(field: CodingKeys.detail.rawValue) }
        guard let info else { throw NotARecord(field: CodingKeys.info.rawValue) }
        return InstanceRecord(serviceID: serviceID, host: host, state: state, since: since, detail: detail, info: info)
    }

    /// A value that is JSON but not an instance record; `field` is the missing or mistyped one.
    struct NotARecord: Error {
        var field: String?
    }

    /// RFC 3339 UTC with milliseconds, for `since`.
    public static func timestamp() -> String {
        WallClockTime.now.rfc3339
    }
}
