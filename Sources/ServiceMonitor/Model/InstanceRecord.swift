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

    /// The fields ``decode(_:keeping:)`` builds.
    public struct Fields: OptionSet, Sendable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        public static let serviceID = Fields(rawValue: 1 << 0)
        public static let host = Fields(rawValue: 1 << 1)
        public static let state = Fields(rawValue: 1 << 2)
        public static let since = Fields(rawValue: 1 << 3)
        public static let detail = Fields(rawValue: 1 << 4)
        public static let info = Fields(rawValue: 1 << 5)
        public static let all: Fields = [.serviceID, .host, .state, .since, .detail, .info]
    }

    /// Reads a record as `watch` wrote it (JSONReader); other keys are ignored, so a newer
    /// version may add fields. Fields outside `keeping` are checked as closely as the others
    /// (a value that is no record is refused whatever is kept) but left empty: "" and no info.
    /// `hosts` keeps only what it prints; building the rest was most of the cost of a record.
    public static func decode(_ bytes: [UInt8], keeping: Fields = .all) throws -> InstanceRecord {
        try bytes.withUnsafeBufferPointer { buffer throws in try decode(buffer: buffer, keeping: keeping) }
    }

    /// ``decode(_:keeping:)`` of bytes where they lie (a listing's answer).
    public static func decode(_ bytes: UnsafeRawBufferPointer, keeping: Fields = .all) throws -> InstanceRecord {
        try decode(buffer: bytes.bindMemory(to: UInt8.self), keeping: keeping)
    }

    private static func decode(buffer: UnsafeBufferPointer<UInt8>, keeping: Fields) throws -> InstanceRecord {
        // Member by member as the text has them, into the fields: neither the record's object
        // nor a String per key (building and hashing those was most of the cost of a record).
        guard var members = try JSONReader.MemberReader(object: buffer) else { throw NotARecord(field: nil) }
        var fields = Read()
        /// The value if it is a string: built when `field` is kept, else "".
        func string(_ field: Fields) throws(JSONReader.SyntaxError) -> String? {
            if keeping.contains(field) { return try members.string() }
            return try members.skipString() ? "" : nil
        }
        while let key = try members.nextKey() {
            // Of a repeated key the first counts, whatever its type, as JSONReader's objects keep it.
            if key.is("service_id"), fields.first(.serviceID) {
                fields.serviceID = try string(.serviceID)
            } else if key.is("host"), fields.first(.host) {
                fields.host = try string(.host)
            } else if key.is("state"), fields.first(.state) {
                fields.state = try members.string().flatMap(State.init(rawValue:))
            } else if key.is("since"), fields.first(.since) {
                fields.since = try string(.since)
            } else if key.is("detail"), fields.first(.detail) {
                fields.detail = try string(.detail)
            } else if key.is("info"), fields.first(.info) {
                if keeping.contains(.info) {
                    fields.info = try members.object().map(ServiceInfo.init(fields:))
                } else {
                    fields.info = try members.skipObject() ? ServiceInfo(fields: [:]) : nil
                }
            } else {
                try members.skip()
            }
        }
        try members.finish()
        // Taken, not copied: a copy retained each string only to release it with `fields`.
        guard let serviceID = fields.serviceID.take() else { throw NotARecord(field: CodingKeys.serviceID.rawValue) }
        guard let host = fields.host.take() else { throw NotARecord(field: CodingKeys.host.rawValue) }
        guard let state = fields.state else { throw NotARecord(field: CodingKeys.state.rawValue) }
        guard let since = fields.since.take() else { throw NotARecord(field: CodingKeys.since.rawValue) }
        guard let detail = fields.detail.take() else { throw NotARecord(field: CodingKeys.detail.rawValue) }
        guard let info = fields.info.take() else { throw NotARecord(field: CodingKeys.info.rawValue) }
        return InstanceRecord(serviceID: serviceID, host: host, state: state, since: since, detail: detail, info: info)
    }

    /// What ``decode(_:keeping:)`` has read so far.
    private struct Read {
        var serviceID: String?, host: String?, state: State?, since: String?, detail: String?, info: ServiceInfo?
        private var seen: Fields = []

        /// Whether this is the first member for `field`, marking it seen.
        mutating func first(_ field: Fields) -> Bool {
            seen.insert(field).inserted
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
