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
    public static func decode(_ bytes: [UInt8]) throws -> InstanceRecord {
        try bytes.withUnsafeBufferPointer { buffer throws in try decode(buffer: buffer) }
    }

    private static func decode(buffer: UnsafeBufferPointer<UInt8>) throws -> InstanceRecord {
        // Member by member as the text has them, into the fields: neither the record's object
        // nor a String per key (building and hashing those was most of the cost of a record).
        guard var members = try JSONReader.MemberReader(object: buffer) else { throw NotARecord(field: nil) }
        var fields = Fields()
        while let key = try members.nextKey() {
            // Of a repeated key the first counts, whatever its type, as JSONReader's objects keep it.
            if key.is("service_id"), fields.first(1 << 0) {
                fields.serviceID = try members.string()
            } else if key.is("host"), fields.first(1 << 1) {
                fields.host = try members.string()
            } else if key.is("state"), fields.first(1 << 2) {
                fields.state = try members.string().flatMap(State.init(rawValue:))
            } else if key.is("since"), fields.first(1 << 3) {
                fields.since = try members.string()
            } else if key.is("detail"), fields.first(1 << 4) {
                fields.detail = try members.string()
            } else if key.is("info"), fields.first(1 << 5) {
                fields.info = try members.object().map(ServiceInfo.init(fields:))
            } else {
                try members.skip()
            }
        }
        try members.finish()
        guard let serviceID = fields.serviceID else { throw NotARecord(field: CodingKeys.serviceID.rawValue) }
        guard let host = fields.host else { throw NotARecord(field: CodingKeys.host.rawValue) }
        guard let state = fields.state else { throw NotARecord(field: CodingKeys.state.rawValue) }
        guard let since = fields.since else { throw NotARecord(field: CodingKeys.since.rawValue) }
        guard let detail = fields.detail else { throw NotARecord(field: CodingKeys.detail.rawValue) }
        guard let info = fields.info else { throw NotARecord(field: CodingKeys.info.rawValue) }
        return InstanceRecord(serviceID: serviceID, host: host, state: state, since: since, detail: detail, info: info)
    }

    /// What ``decode(_:)`` has read so far.
    private struct Fields {
        var serviceID: String?, host: String?, state: State?, since: String?, detail: String?, info: ServiceInfo?
        private var seen: UInt8 = 0

        /// Whether this is the first member for `field` (a bit), marking it seen.
        mutating func first(_ field: UInt8) -> Bool {
            defer { seen |= field }
            return seen & field == 0
        }
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
