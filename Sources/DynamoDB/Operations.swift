/// One DynamoDB API call: its request is the JSON body, ``name`` goes into
/// `X-Amz-Target: DynamoDB_20120810.<name>`, ``Output`` is the decoded answer.
public protocol DynamoDBOperation: Encodable, Sendable {
    associatedtype Output: Decodable & Sendable
    static var name: String { get }
}

/// An answer with nothing the client uses.
public struct EmptyOutput: Decodable, Sendable {}

// MARK: - Tables

public enum ScalarAttributeType: String, Codable, Sendable {
    case string = "S", number = "N", binary = "B"
}

public struct AttributeDefinition: Codable, Sendable, Equatable {
    public var attributeName: String
    public var attributeType: ScalarAttributeType
    public init(_ attributeName: String, _ attributeType: ScalarAttributeType) {
        self.attributeName = attributeName
        self.attributeType = attributeType
    }
    enum CodingKeys: String, CodingKey { case attributeName = "AttributeName", attributeType = "AttributeType" }
}

public struct KeySchemaElement: Codable, Sendable, Equatable {
    public enum KeyType: String, Codable, Sendable { case hash = "HASH", range = "RANGE" }
    public var attributeName: String
    public var keyType: KeyType
    public init(_ attributeName: String, _ keyType: KeyType) {
        self.attributeName = attributeName
        self.keyType = keyType
    }
    enum CodingKeys: String, CodingKey { case attributeName = "AttributeName", keyType = "KeyType" }
}

public struct TableDescription: Decodable, Sendable {
    public var tableName: String?
    /// `CREATING`, `ACTIVE`, `UPDATING`, `DELETING`, ...
    public var tableStatus: String?
    public var keySchema: [KeySchemaElement]?
    public var attributeDefinitions: [AttributeDefinition]?
    public var billingMode: String? { self.billingModeSummary?.billingMode }
    var billingModeSummary: BillingModeSummary?
    public var tableARN: String?

    struct BillingModeSummary: Decodable, Sendable {
        var billingMode: String?
        enum CodingKeys: String, CodingKey { case billingMode = "BillingMode" }
    }
    enum CodingKeys: String, CodingKey {
        case tableName = "TableName", tableStatus = "TableStatus", keySchema = "KeySchema"
        case attributeDefinitions = "AttributeDefinitions", billingModeSummary = "BillingModeSummary", tableARN = "TableArn"
    }
}

/// A table with on-demand billing (`PAY_PER_REQUEST`).
public struct CreateTable: DynamoDBOperation {
    public static let name = "CreateTable"
    public var tableName: String
    public var attributeDefinitions: [AttributeDefinition]
    public var keySchema: [KeySchemaElement]
    public var billingMode = "PAY_PER_REQUEST"

    public init(tableName: String, attributeDefinitions: [AttributeDefinition], keySchema: [KeySchemaElement]) {
        self.tableName = tableName
        self.attributeDefinitions = attributeDefinitions
        self.keySchema = keySchema
    }

    public struct Output: Decodable, Sendable {
        public var tableDescription: TableDescription?
        enum CodingKeys: String, CodingKey { case tableDescription = "TableDescription" }
    }
    enum CodingKeys: String, CodingKey {
        case tableName = "TableName", attributeDefinitions = "AttributeDefinitions", keySchema = "KeySchema", billingMode = "BillingMode"
    }
}

public struct DescribeTable: DynamoDBOperation {
    public static let name = "DescribeTable"
    public var tableName: String
    public init(tableName: String) { self.tableName = tableName }

    public struct Output: Decodable, Sendable {
        public var table: TableDescription
        enum CodingKeys: String, CodingKey { case table = "Table" }
    }
    enum CodingKeys: String, CodingKey { case tableName = "TableName" }
}

public struct TimeToLiveSpecification: Codable, Sendable, Equatable {
    public var attributeName: String
    public var enabled: Bool
    public init(attributeName: String, enabled: Bool) {
        self.attributeName = attributeName
        self.enabled = enabled
    }
    enum CodingKeys: String, CodingKey { case attributeName = "AttributeName", enabled = "Enabled" }
}

public struct UpdateTimeToLive: DynamoDBOperation {
    public static let name = "UpdateTimeToLive"
    public var tableName: String
    public var timeToLiveSpecification: TimeToLiveSpecification
    public init(tableName: String, timeToLiveSpecification: TimeToLiveSpecification) {
        self.tableName = tableName
        self.timeToLiveSpecification = timeToLiveSpecification
    }

    public struct Output: Decodable, Sendable {
        public var timeToLiveSpecification: TimeToLiveSpecification?
        enum CodingKeys: String, CodingKey { case timeToLiveSpecification = "TimeToLiveSpecification" }
    }
    enum CodingKeys: String, CodingKey { case tableName = "TableName", timeToLiveSpecification = "TimeToLiveSpecification" }
}

public struct DescribeTimeToLive: DynamoDBOperation {
    public static let name = "DescribeTimeToLive"
    public var tableName: String
    public init(tableName: String) { self.tableName = tableName }

    public struct Output: Decodable, Sendable {
        public var timeToLiveDescription: Description?
        public struct Description: Decodable, Sendable {
            /// `ENABLING`, `ENABLED`, `DISABLING`, `DISABLED`.
            public var timeToLiveStatus: String?
            public var attributeName: String?
            enum CodingKeys: String, CodingKey { case timeToLiveStatus = "TimeToLiveStatus", attributeName = "AttributeName" }
        }
        enum CodingKeys: String, CodingKey { case timeToLiveDescription = "TimeToLiveDescription" }
    }
    enum CodingKeys: String, CodingKey { case tableName = "TableName" }
}

// MARK: - Items

/// What a write returns of the item (`ReturnValues`).
public enum ReturnValues: String, Codable, Sendable {
    case none = "NONE", allOld = "ALL_OLD", updatedOld = "UPDATED_OLD", allNew = "ALL_NEW", updatedNew = "UPDATED_NEW"
}

/// `ReturnValuesOnConditionCheckFailure`: whether a failed condition brings the item along.
public enum ReturnValuesOnConditionCheckFailure: String, Codable, Sendable {
    case none = "NONE", allOld = "ALL_OLD"
}

/// The `Attributes` a write returned.
public struct WriteOutput: Decodable, Sendable {
    public var attributes: Item?
    enum CodingKeys: String, CodingKey { case attributes = "Attributes" }
}

public struct GetItem: DynamoDBOperation {
    public static let name = "GetItem"
    public var tableName: String
    public var key: Item
    public var consistentRead: Bool?
    public var projectionExpression: String?
    public var expressionAttributeNames: [String: String]?

    public init(tableName: String, key: Item, consistentRead: Bool? = nil, projectionExpression: String? = nil, expressionAttributeNames: [String: String]? = nil) {
        self.tableName = tableName
        self.key = key
        self.consistentRead = consistentRead
        self.projectionExpression = projectionExpression
        self.expressionAttributeNames = expressionAttributeNames
    }

    public struct Output: Decodable, Sendable {
        /// `nil` when there is no such item.
        public var item: Item?
        enum CodingKeys: String, CodingKey { case item = "Item" }
    }
    enum CodingKeys: String, CodingKey {
        case tableName = "TableName", key = "Key", consistentRead = "ConsistentRead"
        case projectionExpression = "ProjectionExpression", expressionAttributeNames = "ExpressionAttributeNames"
    }
}

public struct PutItem: DynamoDBOperation {
    public static let name = "PutItem"
    public typealias Output = WriteOutput
    public var tableName: String
    public var item: Item
    public var conditionExpression: String?
    public var expressionAttributeNames: [String: String]?
    public var expressionAttributeValues: Item?
    public var returnValues: ReturnValues?
    public var returnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure?

    public init(
        tableName: String, item: Item, conditionExpression: String? = nil, expressionAttributeNames: [String: String]? = nil,
        expressionAttributeValues: Item? = nil, returnValues: ReturnValues? = nil,
        returnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure? = nil
    ) {
        self.tableName = tableName
        self.item = item
        self.conditionExpression = conditionExpression
        self.expressionAttributeNames = expressionAttributeNames
        self.expressionAttributeValues = expressionAttributeValues
        self.returnValues = returnValues
        self.returnValuesOnConditionCheckFailure = returnValuesOnConditionCheckFailure
    }
    enum CodingKeys: String, CodingKey {
        case tableName = "TableName", item = "Item", conditionExpression = "ConditionExpression"
        case expressionAttributeNames = "ExpressionAttributeNames", expressionAttributeValues = "ExpressionAttributeValues"
        case returnValues = "ReturnValues", returnValuesOnConditionCheckFailure = "ReturnValuesOnConditionCheckFailure"
    }
}

public struct UpdateItem: DynamoDBOperation {
    public static let name = "UpdateItem"
    public typealias Output = WriteOutput
    public var tableName: String
    public var key: Item
    public var updateExpression: String?
    public var conditionExpression: String?
    public var expressionAttributeNames: [String: String]?
    public var expressionAttributeValues: Item?
    public var returnValues: ReturnValues?
    public var returnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure?

    public init(
        tableName: String, key: Item, updateExpression: String? = nil, conditionExpression: String? = nil,
        expressionAttributeNames: [String: String]? = nil, expressionAttributeValues: Item? = nil, returnValues: ReturnValues? = nil,
        returnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure? = nil
    ) {
        self.tableName = tableName
        self.key = key
        self.updateExpression = updateExpression
        self.conditionExpression = conditionExpression
        self.expressionAttributeNames = expressionAttributeNames
        self.expressionAttributeValues = expressionAttributeValues
        self.returnValues = returnValues
        self.returnValuesOnConditionCheckFailure = returnValuesOnConditionCheckFailure
    }
    enum CodingKeys: String, CodingKey {
        case tableName = "TableName", key = "Key", updateExpression = "UpdateExpression", conditionExpression = "ConditionExpression"
        case expressionAttributeNames = "ExpressionAttributeNames", expressionAttributeValues = "ExpressionAttributeValues"
        case returnValues = "ReturnValues", returnValuesOnConditionCheckFailure = "ReturnValuesOnConditionCheckFailure"
    }
}

public struct DeleteItem: DynamoDBOperation {
    public static let name = "DeleteItem"
    public typealias Output = WriteOutput
    public var tableName: String
    public var key: Item
    public var conditionExpression: String?
    public var expressionAttributeNames: [String: String]?
    public var expressionAttributeValues: Item?
    public var returnValues: ReturnValues?
    public var returnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure?

    public init(
        tableName: String, key: Item, conditionExpression: String? = nil, expressionAttributeNames: [String: String]? = nil,
        expressionAttributeValues: Item? = nil, returnValues: ReturnValues? = nil,
        returnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure? = nil
    ) {
        self.tableName = tableName
        self.key = key
        self.conditionExpression = conditionExpression
        self.expressionAttributeNames = expressionAttributeNames
        self.expressionAttributeValues = expressionAttributeValues
        self.returnValues = returnValues
        self.returnValuesOnConditionCheckFailure = returnValuesOnConditionCheckFailure
    }
    enum CodingKeys: String, CodingKey {
        case tableName = "TableName", key = "Key", conditionExpression = "ConditionExpression"
        case expressionAttributeNames = "ExpressionAttributeNames", expressionAttributeValues = "ExpressionAttributeValues"
        case returnValues = "ReturnValues", returnValuesOnConditionCheckFailure = "ReturnValuesOnConditionCheckFailure"
    }
}

/// One page of a query; ``DynamoDBClient/queryAll(_:deadline:)`` follows the pages.
public struct Query: DynamoDBOperation {
    public static let name = "Query"
    public var tableName: String
    public var indexName: String?
    public var keyConditionExpression: String
    public var filterExpression: String?
    public var projectionExpression: String?
    public var expressionAttributeNames: [String: String]?
    public var expressionAttributeValues: Item?
    public var consistentRead: Bool?
    public var limit: Int?
    public var scanIndexForward: Bool?
    /// The previous page's ``Output/lastEvaluatedKey``.
    public var exclusiveStartKey: Item?

    public init(
        tableName: String, indexName: String? = nil, keyConditionExpression: String, filterExpression: String? = nil,
        projectionExpression: String? = nil, expressionAttributeNames: [String: String]? = nil, expressionAttributeValues: Item? = nil,
        consistentRead: Bool? = nil, limit: Int? = nil, scanIndexForward: Bool? = nil, exclusiveStartKey: Item? = nil
    ) {
        self.tableName = tableName
        self.indexName = indexName
        self.keyConditionExpression = keyConditionExpression
        self.filterExpression = filterExpression
        self.projectionExpression = projectionExpression
        self.expressionAttributeNames = expressionAttributeNames
        self.expressionAttributeValues = expressionAttributeValues
        self.consistentRead = consistentRead
        self.limit = limit
        self.scanIndexForward = scanIndexForward
        self.exclusiveStartKey = exclusiveStartKey
    }

    public struct Output: Decodable, Sendable {
        public var items: [Item]
        public var count: Int?
        public var scannedCount: Int?
        /// Set when there may be more: pass it as the next page's ``Query/exclusiveStartKey``.
        public var lastEvaluatedKey: Item?

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            self.items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
            self.count = try container.decodeIfPresent(Int.self, forKey: .count)
            self.scannedCount = try container.decodeIfPresent(Int.self, forKey: .scannedCount)
            self.lastEvaluatedKey = try container.decodeIfPresent(Item.self, forKey: .lastEvaluatedKey)
        }
        init(items: [Item], count: Int?, scannedCount: Int?, lastEvaluatedKey: Item?) {
            (self.items, self.count, self.scannedCount, self.lastEvaluatedKey) = (items, count, scannedCount, lastEvaluatedKey)
        }
        enum CodingKeys: String, CodingKey { case items = "Items", count = "Count", scannedCount = "ScannedCount", lastEvaluatedKey = "LastEvaluatedKey" }
    }
    enum CodingKeys: String, CodingKey {
        case tableName = "TableName", indexName = "IndexName", keyConditionExpression = "KeyConditionExpression"
        case filterExpression = "FilterExpression", projectionExpression = "ProjectionExpression"
        case expressionAttributeNames = "ExpressionAttributeNames", expressionAttributeValues = "ExpressionAttributeValues"
        case consistentRead = "ConsistentRead", limit = "Limit", scanIndexForward = "ScanIndexForward", exclusiveStartKey = "ExclusiveStartKey"
    }
}

// MARK: - Transactions

/// One action of a `TransactWriteItems`; the whole transaction succeeds or none of it does.
public enum TransactWriteItem: Encodable, Sendable {
    case put(PutItem)
    case update(UpdateItem)
    case delete(DeleteItem)
    /// Only a condition on an item that is not written.
    case conditionCheck(ConditionCheck)

    public struct ConditionCheck: Encodable, Sendable {
        public var tableName: String
        public var key: Item
        public var conditionExpression: String
        public var expressionAttributeNames: [String: String]?
        public var expressionAttributeValues: Item?
        public var returnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure?

        public init(
            tableName: String, key: Item, conditionExpression: String, expressionAttributeNames: [String: String]? = nil,
            expressionAttributeValues: Item? = nil, returnValuesOnConditionCheckFailure: ReturnValuesOnConditionCheckFailure? = nil
        ) {
            self.tableName = tableName
            self.key = key
            self.conditionExpression = conditionExpression
            self.expressionAttributeNames = expressionAttributeNames
            self.expressionAttributeValues = expressionAttributeValues
            self.returnValuesOnConditionCheckFailure = returnValuesOnConditionCheckFailure
        }
        enum CodingKeys: String, CodingKey {
            case tableName = "TableName", key = "Key", conditionExpression = "ConditionExpression"
            case expressionAttributeNames = "ExpressionAttributeNames", expressionAttributeValues = "ExpressionAttributeValues"
            case returnValuesOnConditionCheckFailure = "ReturnValuesOnConditionCheckFailure"
        }
    }

    private enum CodingKeys: String, CodingKey { case put = "Put", update = "Update", delete = "Delete", conditionCheck = "ConditionCheck" }

    /// Inside a transaction an action has no `ReturnValues`: it is left out.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .put(var put):
            put.returnValues = nil
            try container.encode(put, forKey: .put)
        case .update(var update):
            update.returnValues = nil
            try container.encode(update, forKey: .update)
        case .delete(var delete):
            delete.returnValues = nil
            try container.encode(delete, forKey: .delete)
        case .conditionCheck(let check):
            try container.encode(check, forKey: .conditionCheck)
        }
    }
}

public struct TransactWriteItems: DynamoDBOperation {
    public static let name = "TransactWriteItems"
    public typealias Output = EmptyOutput
    public var transactItems: [TransactWriteItem]
    /// Makes a retried call idempotent for 10 minutes.
    public var clientRequestToken: String?

    public init(_ transactItems: [TransactWriteItem], clientRequestToken: String? = nil) {
        self.transactItems = transactItems
        self.clientRequestToken = clientRequestToken
    }
    enum CodingKeys: String, CodingKey { case transactItems = "TransactItems", clientRequestToken = "ClientRequestToken" }
}
