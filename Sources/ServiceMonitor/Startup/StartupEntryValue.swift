import FoundationEssentials

/// The small JSON stored with each holder and waiter, for people reading the store or
/// `status`; the semaphore itself decides on order and expiry only.
public struct StartupEntryValue: Sendable, Hashable, Codable {
    public var serviceID: String
    /// The address of the asking host, when known.
    public var host: String?
    /// When this id asked, RFC 3339 UTC.
    public var askedAt: String

    public init(serviceID: String, host: String?, askedAt: String) {
        self.serviceID = serviceID
        self.host = host
        self.askedAt = askedAt
    }

    enum CodingKeys: String, CodingKey {
        case serviceID = "service_id"
        case host
        case askedAt = "asked_at"
    }

    public func encoded() throws -> [UInt8] {
        try JSONCoding.encode(self)
    }
}
