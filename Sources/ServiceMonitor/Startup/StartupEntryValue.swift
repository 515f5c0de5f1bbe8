import FoundationEssentials

/// The small JSON stored at holder and queue keys, for people reading `etcdctl get` or
/// `status`; the semaphore itself decides on keys, create revisions and leases only.
struct StartupEntryValue: Sendable, Hashable, Codable {
    var serviceID: String
    /// The address of the asking host, when known.
    var host: String?
    /// When this id asked, RFC 3339 UTC.
    var askedAt: String

    enum CodingKeys: String, CodingKey {
        case serviceID = "service_id"
        case host
        case askedAt = "asked_at"
    }

    func encoded() throws -> [UInt8] {
        try JSONCoding.encode(self)
    }
}
