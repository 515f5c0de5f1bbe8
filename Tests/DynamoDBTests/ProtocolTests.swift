@testable import DynamoDB
import FoundationEssentials
import Testing
import TestSupport

/// The JSON 1.0 wire forms, the error mapping and the back-off, without a server.
@Suite(.tags(.fast))
struct ProtocolTests {
    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    @Test
    func attributeValuesUseTheWireForm() throws {
        let item: Item = [
            "s": .s("x"), "n": .number(42), "bool": .bool(true), "null": .null, "b": .b([0, 255]),
            "m": .m(["inner": .l([.s("a"), .n("1.5")])]), "ss": .ss(["a", "b"]),
        ]
        let text = try Self.json(item)
        #expect(text == #"{"b":{"B":"AP8="},"bool":{"BOOL":true},"m":{"M":{"inner":{"L":[{"S":"a"},{"N":"1.5"}]}}},"n":{"N":"42"},"null":{"NULL":true},"s":{"S":"x"},"ss":{"SS":["a","b"]}}"#)
        let decoded = try JSONDecoder().decode(Item.self, from: Data(text.utf8))
        #expect(decoded == item)
        #expect(decoded["n"]?.int64Value == 42)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(AttributeValue.self, from: Data(#"{"S":"a","N":"1"}"#.utf8)) }
    }

    @Test
    func transactionActionsLeaveOutReturnValues() throws {
        let request = TransactWriteItems([
            .put(PutItem(tableName: "t", item: ["pk": .s("a")], conditionExpression: "attribute_not_exists(pk)", returnValues: .allOld)),
            .conditionCheck(.init(tableName: "t", key: ["pk": .s("b")], conditionExpression: "attribute_exists(pk)")),
        ])
        let text = try Self.json(request)
        #expect(text == #"{"TransactItems":[{"Put":{"ConditionExpression":"attribute_not_exists(pk)","Item":{"pk":{"S":"a"}},"TableName":"t"}},{"ConditionCheck":{"ConditionExpression":"attribute_exists(pk)","Key":{"pk":{"S":"b"}},"TableName":"t"}}]}"#)
    }

    @Test
    func createTableAsksForOnDemandBilling() throws {
        let text = try Self.json(CreateTable(tableName: "t", attributeDefinitions: [.init("pk", .string)], keySchema: [.init("pk", .hash)]))
        #expect(text == #"{"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"TableName":"t"}"#)
    }

    @Test
    func errorsAreReadFromTheTypeNotTheMessage() {
        func error(_ status: Int, _ body: String, header: String? = nil) -> DynamoDBError {
            DynamoDBClient.error(status: status, body: Array(body.utf8), errorTypeHeader: header, operation: "PutItem")
        }
        let conditional = error(400, #"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed","Item":{"pk":{"S":"a"}}}"#)
        #expect(conditional.code == .conditionalCheckFailed)
        #expect(conditional.awsErrorType == "ConditionalCheckFailedException")
        #expect(conditional.item == ["pk": .s("a")])
        // The message says "throttled" but the type decides.
        #expect(error(400, #"{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"throttled"}"#).code == .validation)
        #expect(error(400, #"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"x"}"#).code == .throttled)
        #expect(error(400, #"{"__type":"com.amazon.coral.availability#ThrottlingException"}"#).code == .throttled)
        #expect(error(400, #"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceInUseException"}"#).code == .resourceInUse)
        #expect(error(400, #"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"}"#).code == .resourceNotFound)
        #expect(error(400, #"{"__type":"com.amazon.coral.service#UnrecognizedClientException"}"#).code == .accessDenied)
        #expect(error(400, "", header: "InvalidSignatureException:http://internal.amazon.com/coral/com.amazon.coral.service/").code == .accessDenied)
        #expect(error(403, "<ErrorResponse><Errors><Error><Code>SignatureDoesNotMatch</Code></Error></Errors></ErrorResponse>").awsErrorType == "SignatureDoesNotMatch")
        #expect(error(403, "<html>forbidden</html>").code == .accessDenied)
        #expect(error(503, "<html>unavailable</html>").code == .serverError)
        #expect(error(400, #"{"__type":"com.amazonaws.dynamodb.v20120810#ItemCollectionSizeLimitExceededException"}"#).code == .other)
        let canceled = error(
            400,
            #"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","Message":"Transaction cancelled","CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"The conditional request failed"}]}"#
        )
        #expect(canceled.code == .transactionCanceled([.init(code: "None"), .init(code: "ConditionalCheckFailed", message: "The conditional request failed")]))
        #expect(canceled.message == "Transaction cancelled")
    }

    @Test
    func onlyThrottlingServerErrorsAndNoAnswerAreRetried() {
        #expect(DynamoDBError.Code.throttled.isRetryable)
        #expect(DynamoDBError.Code.serverError.isRetryable)
        #expect(DynamoDBError.Code.unreachable.isRetryable)
        for code: DynamoDBError.Code in [.conditionalCheckFailed, .transactionCanceled([]), .accessDenied, .validation, .resourceNotFound, .credentialsUnavailable] {
            #expect(!code.isRetryable, "\(code)")
        }
    }

    @Test
    func backoffIsFullJitterUnderACap() {
        let policy = RetryPolicy(base: .milliseconds(100), cap: .milliseconds(400))
        for retry in 1...8 {
            let ceiling = min(Duration.milliseconds(400), .milliseconds(100) * (1 << (retry - 1)))
            let waits = (0..<200).map { _ in policy.backoff(beforeRetry: retry) }
            #expect(waits.allSatisfy { $0 >= .zero && $0 <= ceiling })
            // Full jitter: spread over the whole range, not bunched at the ceiling.
            #expect(waits.contains { $0 < ceiling / 2 })
        }
    }

    @Test
    func endpointAndRegionFollowTheSDKOrder() throws {
        #expect(DynamoDBEndpoint.resolve(region: "eu-west-1", environment: [:]) == "https://dynamodb.eu-west-1.amazonaws.com")
        #expect(DynamoDBEndpoint.resolve(region: "eu-west-1", environment: ["AWS_ENDPOINT_URL": "http://a"]) == "http://a")
        #expect(DynamoDBEndpoint.resolve(region: "eu-west-1", environment: ["AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_DYNAMODB": "http://b"]) == "http://b")
        #expect(DynamoDBEndpoint.resolve(explicit: "http://c", region: "eu-west-1", environment: ["AWS_ENDPOINT_URL_DYNAMODB": "http://b"]) == "http://c")
        #expect(try AWSRegion.resolve(environment: ["AWS_DEFAULT_REGION": "us-west-2"]) == "us-west-2")
        #expect(try AWSRegion.resolve(environment: ["AWS_DEFAULT_REGION": "us-west-2", "AWS_REGION": "eu-north-1"]) == "eu-north-1")
        #expect(try AWSRegion.resolve(explicit: "ap-south-1", environment: ["AWS_REGION": "eu-north-1"]) == "ap-south-1")
        #expect(try AWSRegion.resolve(environment: ["HOME": "/nonexistent"]) == nil)
        #expect(throws: DynamoDBError.self) { try DynamoDBClient(region: "x", endpoint: "ftp://host", credentials: StaticCredentialsProvider(.init(accessKeyID: "a", secretAccessKey: "b"))) }
    }

    @Test
    func credentialsNeverPrintTheirSecrets() {
        let credentials = AWSCredentials(accessKeyID: "AKIDSHOWN", secretAccessKey: "secret-never-shown", sessionToken: "token-never-shown")
        for text in ["\(credentials)", String(reflecting: credentials), { var out = ""; dump(credentials, to: &out); return out }()] {
            #expect(text.contains("AKIDSHOWN"))
            #expect(!text.contains("secret-never-shown"))
            #expect(!text.contains("token-never-shown"))
        }
    }
}
