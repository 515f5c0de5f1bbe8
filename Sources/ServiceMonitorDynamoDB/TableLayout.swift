public import DynamoDB
public import ServiceMonitor

/// Where service-monitor keeps its state in one DynamoDB table (docs/dynamodb.md): a string
/// partition key `pk` and a string sort key `sk`.
///
///     pk                    sk                        what
///     <prefix>/<label>      instance#<service-id>     instance record: record (JSON), owner, order, expires
///     <prefix>/<label>      startup#queue#<id>        waiter: entry (JSON), owner, order (its ticket), expires
///     <prefix>/<label>      startup#holder#<id>       slot: entry (JSON), owner, order, leaseEnds
///     <prefix>/<label>      startup#count             holder items of the label (count), guards promotion
///     <prefix>/<label>      counter                   next: tickets and registration order (UpdateItem ADD)
///     <prefix>              label#<label>             the labels, for `status` without a Scan
///
/// `expires` (epoch seconds) is the table's TTL attribute: DynamoDB deletes expired items within
/// days, cleanup only; every read drops expired items itself. Holders carry `leaseEnds` (epoch
/// milliseconds) instead,
/// never `expires`: a slot deleted by TTL would leave `startup#count` too high for ever, so
/// expired holders are removed (with the count) by the waiters, in one transaction.
public struct TableLayout: Sendable, Hashable {
    /// The table (`--dynamodb-table`).
    public let table: String
    /// The prefix of every partition key, without a trailing slash (`/service-monitor`).
    public let prefix: String

    public static let partitionKey = "pk"
    public static let sortKey = "sk"
    /// The table's TTL attribute.
    public static let expiryAttribute = "expires"

    public init(table: String, prefix: String) throws(BadInput) {
        try Self.validate(table: table)
        var trimmed = Substring(prefix)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard !trimmed.isEmpty, !prefix.contains(where: \.isNewline) else {
            throw BadInput(option: "--prefix", message: "\(prefix.quotedForError): must be a non-empty key prefix such as /service-monitor")
        }
        self.table = table
        self.prefix = String(trimmed)
    }

    /// DynamoDB's rule for table names: 3 to 255 of `A-Z a-z 0-9 _ - .`.
    public static func validate(table: String) throws(BadInput) {
        let allowed = table.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": true
            default: false
            }
        }
        guard (3...255).contains(table.unicodeScalars.count), allowed else {
            throw BadInput(option: "--dynamodb-table", message: "\(table.quotedForError): a table name is 3 to 255 of A-Z a-z 0-9 _ - .")
        }
    }

    /// The key schema `create-table` gives the table.
    public var attributeDefinitions: [AttributeDefinition] {
        [AttributeDefinition(Self.partitionKey, .string), AttributeDefinition(Self.sortKey, .string)]
    }

    public var keySchema: [KeySchemaElement] {
        [KeySchemaElement(Self.partitionKey, .hash), KeySchemaElement(Self.sortKey, .range)]
    }

    // MARK: Keys

    public func partition(_ label: Label) -> String { "\(prefix)/\(label.rawValue)" }

    /// The partition that lists the labels.
    public var labelsPartition: String { prefix }

    public static let instancePrefix = "instance#"
    public static let startupPrefix = "startup#"
    public static let queuePrefix = "startup#queue#"
    public static let holderPrefix = "startup#holder#"

    public func key(_ partition: String, _ sort: String) -> Item {
        [Self.partitionKey: .s(partition), Self.sortKey: .s(sort)]
    }

    public func instance(_ label: Label, _ id: ServiceID) -> Item { key(partition(label), Self.instancePrefix + id.rawValue) }
    public func queueEntry(_ label: Label, _ id: ServiceID) -> Item { key(partition(label), Self.queuePrefix + id.rawValue) }
    public func holder(_ label: Label, _ id: ServiceID) -> Item { key(partition(label), Self.holderPrefix + id.rawValue) }
    public func holderCount(_ label: Label) -> Item { key(partition(label), "startup#count") }
    public func counter(_ label: Label) -> Item { key(partition(label), "counter") }
    public func labelEntry(_ label: Label) -> Item { key(labelsPartition, "label#" + label.rawValue) }

    /// What an item of a label's partition is, by its sort key; `nil` for anything else.
    public static func entry(sortKey: String) -> Entry? {
        if sortKey.hasPrefix(instancePrefix) { return .instance(serviceID: String(sortKey.dropFirst(instancePrefix.count))) }
        if sortKey.hasPrefix(queuePrefix) { return .queueEntry(serviceID: String(sortKey.dropFirst(queuePrefix.count))) }
        if sortKey.hasPrefix(holderPrefix) { return .holder(serviceID: String(sortKey.dropFirst(holderPrefix.count))) }
        if sortKey == "startup#count" { return .holderCount }
        return nil
    }

    public enum Entry: Sendable, Hashable {
        case instance(serviceID: String)
        case queueEntry(serviceID: String)
        case holder(serviceID: String)
        case holderCount
    }

    /// Item attributes other than the keys.
    public enum Attribute {
        public static let owner = "owner"
        public static let order = "order"
        public static let record = "record"
        public static let entry = "entry"
        public static let leaseEnds = "leaseEnds"
        public static let count = "count"
        public static let next = "next"
        public static let label = "label"
    }
}
