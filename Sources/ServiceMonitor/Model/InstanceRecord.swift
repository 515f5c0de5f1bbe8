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
        // Member by member as the text has them, into the fields: neither the record's object
        // nor a lookup per field (hashing the keys was a fifth of the cost of reading a record).
        var serviceID: String?, host: String?, state: State?, since: String?, detail: String?, info: ServiceInfo?
        // Of a repeated key the first counts, whatever its type, as JSONReader's objects keep it.
        var seen: UInt8 = 0
        func first(_ field: UInt8) -> Bool {
            defer { seen |= field }
            return seen & field == 0
        }
        let isObject = try JSONReader.forEachMember(of: bytes) { key, value in
            switch key {
            case "service_id": if first(1 << 0), case .string(let text) = value { serviceID = text }
            case "host": if first(1 << 1), case .string(let text) = value { host = text }
            case "state": if first(1 << 2), case .string(let text) = value { state = State(rawValue: text) }
            case "since": if first(1 << 3), case .string(let text) = value { since = text }
            case "detail": if first(1 << 4), case .string(let text) = value { detail = text }
            case "info": if first(1 << 5), case .object(let object) = value { info = ServiceInfo(fields: object) }
            default: break
            }
        }
        guard isObject else { throw NotARecord(field: nil) }
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
