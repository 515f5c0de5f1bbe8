@testable import DynamoDB
import Foundation
import NIOHTTP1
import Synchronization
import Testing
import TestSupport

/// The client's requests and retries against a real HTTP server on loopback that answers as
/// DynamoDB's front end does when it throttles, fails or rejects.
@Suite(.tags(.fast), .shares(.processDescriptors))
struct ClientTransportTests {
    static let credentials = AWSCredentials(accessKeyID: "AKIDTRANSPORT", secretAccessKey: "transport-secret-key", sessionToken: "transport-session-token")

    static func client(_ server: ScriptedHTTPServer, retry: RetryPolicy = RetryPolicy(base: .milliseconds(5), cap: .milliseconds(50))) throws -> DynamoDBClient {
        try DynamoDBClient(region: "eu-west-1", endpoint: server.baseURL, credentials: StaticCredentialsProvider(Self.credentials), retryPolicy: retry)
    }

    static func awsError(_ type: String, status: Int = 400) -> ScriptedHTTPServer.Response {
        .init(status: status, headers: [("Content-Type", "application/x-amz-json-1.0")], body: #"{"__type":"com.amazonaws.dynamodb.v20120810#\#(type)","message":"from the test"}"#)
    }

    @Test
    func requestsAreSignedJSON10Posts() async throws {
        try await withScriptedHTTPServer({ _ in .init(status: 200, body: #"{"Item":{"pk":{"S":"a"},"n":{"N":"7"}}}"#) }) { server in
            let output = try await Self.client(server).getItem(GetItem(tableName: "t", key: ["pk": .s("a")], consistentRead: true), deadline: .now + .seconds(10))
            #expect(output.item == ["pk": .s("a"), "n": .n("7")])
            let request = try #require(server.requests.first)
            #expect(request.method == .POST)
            #expect(request.uri == "/")
            #expect(request.headers.first(name: "Content-Type") == "application/x-amz-json-1.0")
            #expect(request.headers.first(name: "X-Amz-Target") == "DynamoDB_20120810.GetItem")
            #expect(request.headers.first(name: "Host") == "127.0.0.1:\(server.port)")
            #expect(request.headers.first(name: "X-Amz-Security-Token") == "transport-session-token")
            let authorization = try #require(request.headers.first(name: "Authorization"))
            #expect(authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDTRANSPORT/"))
            #expect(authorization.contains("/eu-west-1/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature="))
            let body = try JSONSerialization.jsonObject(with: Data(request.body.utf8)) as? [String: Any]
            #expect(body?["TableName"] as? String == "t")
            #expect(body?["ConsistentRead"] as? Bool == true)
        }
    }

    @Test
    func throttlingAndServerErrorsAreRetried() async throws {
        let answers = Locked([Self.awsError("ThrottlingException"), Self.awsError("ProvisionedThroughputExceededException"), .init(status: 503), ])
        try await withScriptedHTTPServer({ _ in
            answers.withLock { $0.isEmpty ? .init(status: 200, body: "{}") : $0.removeFirst() }
        }) { server in
            try await Self.client(server).putItem(PutItem(tableName: "t", item: ["pk": .s("a")]), deadline: .now + .seconds(10))
            #expect(server.requests.count == 4)
        }
    }

    @Test
    func othersAreReturnedAtOnce() async throws {
        for (type, code) in [("ValidationException", DynamoDBError.Code.validation), ("ConditionalCheckFailedException", .conditionalCheckFailed), ("AccessDeniedException", .accessDenied)] {
            try await withScriptedHTTPServer({ _ in Self.awsError(type) }) { server in
                await #expect {
                    try await Self.client(server).putItem(PutItem(tableName: "t", item: ["pk": .s("a")]), deadline: .now + .seconds(10))
                } throws: { error in
                    guard let error = error as? DynamoDBError else { return false }
                    // What is printed carries no secret.
                    let text = "\(error) \(String(reflecting: error))"
                    return error.code == code && error.operation == "PutItem" && !text.contains("transport-secret-key") && !text.contains("transport-session-token")
                        && !text.contains("Signature=")
                }
                #expect(server.requests.count == 1)
            }
        }
    }

    @Test
    func signatureFailureMessagesLoseTheSessionToken() async throws {
        // AWS's InvalidSignatureException quotes the canonical request it expected, headers and all.
        let message = "The request signature we calculated does not match. The Canonical String for this request should have been 'POST\\n/\\n\\nx-amz-security-token:transport-session-token\\n'"
        _ = try await withScriptedHTTPServer({ _ in
            .init(status: 400, body: #"{"__type":"com.amazon.coral.service#InvalidSignatureException","message":"\#(message)"}"#)
        }) { server in
            await #expect {
                try await Self.client(server).describeTable(DescribeTable(tableName: "t"), deadline: .now + .seconds(10))
            } throws: { error in
                guard let error = error as? DynamoDBError else { return false }
                return error.code == .accessDenied && error.message.contains("x-amz-security-token:<redacted>") && !"\(error)".contains("transport-session-token")
            }
        }
    }

    @Test
    func standardConfigurationFromTheEnvironment() throws {
        let client = try DynamoDBClient.standard(environment: ["AWS_DEFAULT_REGION": "eu-central-1", "HOME": "/nonexistent"])
        #expect(client.region == "eu-central-1")
        #expect(client.endpoint == "https://dynamodb.eu-central-1.amazonaws.com")
        let local = try DynamoDBClient.standard(environment: ["AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:8000"])
        #expect(local.endpoint == "http://127.0.0.1:8000")
        #expect(throws: DynamoDBError.self) { try DynamoDBClient.standard(environment: ["HOME": "/nonexistent"]) }
    }

    @Test
    func retriesStopAtTheDeadline() async throws {
        // So many attempts that only the deadline ends them: ~25 s of back-off without it.
        let retry = RetryPolicy(base: .milliseconds(5), cap: .milliseconds(50), maximumAttempts: 1_000)
        try await withScriptedHTTPServer({ _ in .init(status: 500, body: "<html>down</html>") }) { server in
            let start = ContinuousClock.now
            await #expect {
                try await Self.client(server, retry: retry).query(Query(tableName: "t", keyConditionExpression: "pk = :p", expressionAttributeValues: [":p": .s("a")]), deadline: .now + .milliseconds(800))
            } throws: { ($0 as? DynamoDBError)?.code == .serverError }
            #expect(ContinuousClock.now - start < .milliseconds(800) + LoadedRun.lateness)
            #expect(server.requests.count > 1)
        }
        // Nothing listening: unreachable, also retried until the deadline.
        let stopped = try await ScriptedHTTPServer.start { _ in .init(status: 200) }
        await stopped.stop()
        let start = ContinuousClock.now
        await #expect {
            try await Self.client(stopped, retry: retry).describeTable(DescribeTable(tableName: "t"), deadline: .now + .milliseconds(500))
        } throws: { ($0 as? DynamoDBError)?.code == .unreachable }
        #expect(ContinuousClock.now - start < .milliseconds(500) + LoadedRun.lateness)
    }
}
