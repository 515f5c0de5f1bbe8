import DynamoDB
import Posix
import ServiceMonitor

/// The table operations the registry and the semaphore share: every request with the
/// `--command-timeout` deadline, consistent reads that drop expired items in the query itself,
/// the label counter, and the wall clock expiries are written in.
struct DynamoDBStore: Sendable {
    let client: DynamoDBClient
    let layout: TableLayout
    /// How long one request may take, retries of throttling and 5xx included.
    let requestTimeout: Duration
    /// How often a waiter reads again.
    let pollInterval: Duration

    var table: String { layout.table }

    func deadline(atMost limit: ContinuousClock.Instant? = nil) -> ContinuousClock.Instant {
        let own = ContinuousClock.now + requestTimeout
        return limit.map { min($0, own) } ?? own
    }

    // MARK: Time

    /// Now on the wall clock, since the Unix epoch. Hosts agree on it through NTP; a skew of
    /// `s` seconds makes a record look `s` seconds longer- or shorter-lived to other hosts.
    static var now: Duration {
        let time = WallClockTime.now
        return .seconds(time.seconds) + .nanoseconds(time.nanoseconds)
    }

    /// Whole epoch seconds, rounded down: an item whose expiry is `e` is alive while this is below `e`.
    static var nowSeconds: Int64 { now.components.seconds }

    /// The expiry (epoch seconds, rounded up) `ttl` from now.
    static func expiry(after ttl: Duration) -> Int64 {
        let at = now + ttl
        return at.components.seconds + (at.components.attoseconds > 0 ? 1 : 0)
    }

    /// Epoch milliseconds, for holders' `leaseEnds` (no TTL attribute, so finer than seconds).
    static var nowMilliseconds: Int64 { milliseconds(now) }

    static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }

    /// Epoch milliseconds `duration` from now.
    static func millisecondsAfter(_ duration: Duration) -> Int64 { milliseconds(now + duration) }

    /// The whole seconds left until epoch millisecond `end` (as etcd reports a lease); `nil`
    /// once under a second is left ("ending").
    static func timeLeft(untilMilliseconds end: Int64) -> Duration? {
        let left = (end - nowMilliseconds) / 1000
        return left > 0 ? .seconds(left) : nil
    }

    /// 128 random bits in hex: whose item this is.
    static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return [generator.next(), generator.next()].map { (value: UInt64) in
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: 16 - digits.count) + digits
        }.joined()
    }

    // MARK: Operations

    /// The next number of the label's counter (tickets, registration order): strictly increasing.
    func nextNumber(of label: Label) async throws -> Int64 {
        let output = try await client.updateItem(
            UpdateItem(
                tableName: table, key: layout.counter(label), updateExpression: "ADD #next :one",
                expressionAttributeNames: ["#next": TableLayout.Attribute.next], expressionAttributeValues: [":one": .number(1)],
                returnValues: .updatedNew
            ),
            deadline: deadline()
        )
        guard let next = output.attributes?[TableLayout.Attribute.next]?.int64Value else {
            throw DynamoDBError(code: .other, message: "UpdateItem ADD returned no number", operation: UpdateItem.name)
        }
        return next
    }

    /// Lists the label for `status` (idempotent: the same item every time).
    func noteLabel(_ label: Label) async throws {
        var item = layout.labelEntry(label)
        item[TableLayout.Attribute.label] = .s(label.rawValue)
        try await client.putItem(PutItem(tableName: table, item: item), deadline: deadline())
    }

    /// Every item of `partition` (whose sort key starts with `sortPrefix`, if given) that has
    /// not expired (items without `expires` never do): one consistent query, all pages.
    func liveItems(in partition: String, sortPrefix: String?) async throws -> [Item] {
        var values: Item = [":pk": .s(partition), ":now": .number(Self.nowSeconds)]
        var names = ["#pk": TableLayout.partitionKey, "#expires": TableLayout.expiryAttribute]
        var condition = "#pk = :pk"
        if let sortPrefix {
            condition += " AND begins_with(#sk, :prefix)"
            names["#sk"] = TableLayout.sortKey
            values[":prefix"] = .s(sortPrefix)
        }
        return try await client.queryAll(
            Query(
                tableName: table, keyConditionExpression: condition,
                filterExpression: "attribute_not_exists(#expires) OR #expires > :now",
                expressionAttributeNames: names, expressionAttributeValues: values, consistentRead: true
            ),
            deadline: deadline()
        )
    }

    // MARK: Items with an owner and an expiry (records, queue entries)

    /// Writes `item` unless a live item (one whose expiry has not passed) has its key; whether it
    /// wrote.
    func putUnlessLive(_ item: Item) async throws -> Bool {
        try await unlessConditionFails {
            try await client.putItem(
                PutItem(
                    tableName: table, item: item, conditionExpression: "attribute_not_exists(#order) OR #expires <= :now",
                    expressionAttributeNames: ["#order": TableLayout.Attribute.order, "#expires": TableLayout.expiryAttribute],
                    expressionAttributeValues: [":now": .number(Self.nowSeconds)]
                ),
                deadline: deadline()
            )
        }
    }

    /// Moves the expiry of the item at `key` to `expires` if it is still `owner`'s and alive;
    /// whether it did.
    func renewExpiry(of key: Item, owner: String, to expires: Int64, deadline: ContinuousClock.Instant) async throws -> Bool {
        try await unlessConditionFails {
            try await client.updateItem(
                UpdateItem(
                    tableName: table, key: key, updateExpression: "SET #expires = :expires",
                    conditionExpression: "#owner = :owner AND #expires > :now",
                    expressionAttributeNames: ["#owner": TableLayout.Attribute.owner, "#expires": TableLayout.expiryAttribute],
                    expressionAttributeValues: [":expires": .number(expires), ":owner": .s(owner), ":now": .number(Self.nowSeconds)]
                ),
                deadline: deadline
            )
        }
    }

    /// The deletion of the item at `key` only while it is `owner`'s: alone, or one item of a
    /// transaction.
    func deletion(of key: Item, ifOwnedBy owner: String) -> DeleteItem {
        DeleteItem(
            tableName: table, key: key, conditionExpression: "#owner = :owner",
            expressionAttributeNames: ["#owner": TableLayout.Attribute.owner], expressionAttributeValues: [":owner": .s(owner)]
        )
    }

    /// Deletes the item at `key` if it is still `owner`'s; whether it did.
    func delete(_ key: Item, ifOwnedBy owner: String) async throws -> Bool {
        try await unlessConditionFails {
            try await client.deleteItem(deletion(of: key, ifOwnedBy: owner), deadline: deadline())
        }
    }

    /// One item, read consistently; `nil` when absent.
    func item(at key: Item) async throws -> Item? {
        try await client.getItem(GetItem(tableName: table, key: key, consistentRead: true), deadline: deadline()).item
    }
}

extension DynamoDBError {
    /// A condition of the write (or of one item of the transaction) did not hold.
    var isConditionFailure: Bool {
        switch code {
        case .conditionalCheckFailed: true
        case .transactionCanceled(let reasons): reasons.isEmpty || reasons.contains { $0.code == "ConditionalCheckFailed" || $0.code == "TransactionConflict" }
        default: false
        }
    }
}

/// Runs `body`; a failed condition comes back as `false` instead of an error.
func unlessConditionFails(_ body: () async throws -> Void) async throws -> Bool {
    do {
        try await body()
        return true
    } catch let error as DynamoDBError where error.isConditionFailure {
        return false
    }
}

extension Item {
    func string(_ name: String) -> String? { self[name]?.stringValue }
    func int64(_ name: String) -> Int64? { self[name]?.int64Value }
    var sortKey: String? { string(TableLayout.sortKey) }
}
