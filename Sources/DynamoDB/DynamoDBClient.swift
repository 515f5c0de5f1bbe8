public import AsyncHTTPClient
public import FoundationEssentials
import NIOCore
import NIOHTTP1

/// How failed calls are retried: throttling, 5xx and no connection, with full-jitter
/// exponential back-off (a random wait between zero and `base`·2ⁿ, at most `cap`), as long as
/// the caller's deadline allows. Everything else is returned at once.
public struct RetryPolicy: Sendable {
    public var base: Duration
    public var cap: Duration
    /// Attempts in all, the first included.
    public var maximumAttempts: Int

    public init(base: Duration = .milliseconds(25), cap: Duration = .seconds(2), maximumAttempts: Int = 10) {
        self.base = base
        self.cap = cap
        self.maximumAttempts = maximumAttempts
    }

    /// The wait before retry number `retry` (1 for the first retry).
    func backoff(beforeRetry retry: Int) -> Duration {
        let ceiling = min(self.cap, self.base * (1 << min(retry - 1, 20)))
        let nanoseconds = ceiling.components.seconds * 1_000_000_000 + ceiling.components.attoseconds / 1_000_000_000
        return .nanoseconds(Int64.random(in: 0...max(0, nanoseconds)))
    }
}

/// A small DynamoDB client: the JSON 1.0 protocol (`POST /`,
/// `Content-Type: application/x-amz-json-1.0`, `X-Amz-Target: DynamoDB_20120810.<Op>`) over
/// AsyncHTTPClient, each request signed with SigV4 with credentials from a provider.
public struct DynamoDBClient: Sendable {
    public let region: String
    /// The endpoint URL requests go to.
    public let endpoint: String
    public let retryPolicy: RetryPolicy
    private let http: HTTPClient
    private let credentials: any AWSCredentialsProvider
    private let hostHeader: String
    private let path: String

    /// `endpoint` defaults as ``DynamoDBEndpoint/resolve(explicit:region:environment:)`` says.
    public init(
        region: String,
        endpoint: String? = nil,
        credentials: any AWSCredentialsProvider,
        httpClient: HTTPClient = .shared,
        retryPolicy: RetryPolicy = RetryPolicy()
    ) throws(DynamoDBError) {
        let endpoint = endpoint ?? DynamoDBEndpoint.resolve(region: region)
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            throw DynamoDBError(code: .validation, message: "the DynamoDB endpoint \(endpoint.debugDescription) is not an http(s) URL")
        }
        self.region = region
        self.endpoint = endpoint
        self.credentials = credentials
        self.http = httpClient
        self.retryPolicy = retryPolicy
        let defaultPort = scheme == "https" ? 443 : 80
        let hostInURL = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        self.hostHeader = url.port.map { $0 == defaultPort ? hostInURL : "\(hostInURL):\($0)" } ?? hostInURL
        self.path = url.path.isEmpty ? "/" : url.path
    }

    /// A client configured as the AWS SDKs configure one: the region from `region`,
    /// `AWS_REGION`, `AWS_DEFAULT_REGION` or the shared config file; the endpoint from `endpoint`,
    /// `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL` or the region's; credentials from the
    /// standard chain.
    public static func standard(
        region: String? = nil,
        endpoint: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        httpClient: HTTPClient = .shared,
        retryPolicy: RetryPolicy = RetryPolicy()
    ) throws(DynamoDBError) -> DynamoDBClient {
        guard let region = try AWSRegion.resolve(explicit: region, environment: environment) else {
            throw DynamoDBError(code: .validation, message: "no AWS region: give one, or set AWS_REGION (or AWS_DEFAULT_REGION, or region in the shared config file)")
        }
        return try DynamoDBClient(
            region: region,
            endpoint: DynamoDBEndpoint.resolve(explicit: endpoint, region: region, environment: environment),
            credentials: AWSCredentialsChain.standard(environment: environment, http: MetadataHTTP(client: httpClient)),
            httpClient: httpClient,
            retryPolicy: retryPolicy
        )
    }

    /// Sends one operation, retrying what may succeed later until `deadline`.
    public func send<Operation: DynamoDBOperation>(_ operation: Operation, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> Operation.Output {
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(operation))
        } catch {
            throw DynamoDBError(code: .validation, message: "cannot encode the request: \(error)", operation: Operation.name, cause: error)
        }
        var attempt = 1
        while true {
            do throws(DynamoDBError) {
                let answer = try await self.attempt(Operation.name, body: body, deadline: deadline)
                do {
                    return try JSONDecoder().decode(Operation.Output.self, from: Data(answer.isEmpty ? Array("{}".utf8) : answer))
                } catch {
                    throw DynamoDBError(code: .other, message: "unexpected answer: \(error)", operation: Operation.name, cause: error)
                }
            } catch {
                guard error.code.isRetryable, attempt < self.retryPolicy.maximumAttempts, !Task.isCancelled else { throw error }
                let wait = self.retryPolicy.backoff(beforeRetry: attempt)
                guard ContinuousClock.now + wait < deadline else { throw error }
                do {
                    try await Task.sleep(for: wait)
                } catch {
                    throw DynamoDBError(code: .unreachable, message: "cancelled while waiting to retry", operation: Operation.name, cause: error)
                }
                // A sleep that overran the deadline (a loaded host) leaves no time for another try:
                // the last answer says what happened, not "the deadline passed before an answer".
                guard ContinuousClock.now < deadline else { throw error }
                attempt += 1
            }
        }
    }

    /// One signed request; the body of a 200, or the error the answer describes.
    private func attempt(_ name: String, body: [UInt8], deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> [UInt8] {
        let remaining = deadline - .now
        guard remaining > .zero else {
            throw DynamoDBError(code: .unreachable, message: "the deadline passed before an answer", operation: name)
        }
        let credentials = try await self.credentials.credentials(deadline: deadline)
        let target = "DynamoDB_20120810.\(name)"
        let signed = SigV4Signer(credentials: credentials, region: self.region, service: "dynamodb").sign(
            method: "POST", path: self.path,
            headers: [("Host", self.hostHeader), ("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", target)],
            body: body, at: Date()
        )
        var request = HTTPClientRequest(url: self.endpoint)
        request.method = .POST
        request.headers.add(name: "Host", value: self.hostHeader)
        request.headers.add(name: "Content-Type", value: "application/x-amz-json-1.0")
        request.headers.add(name: "X-Amz-Target", value: target)
        for header in signed.headers { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(body)
        let status: Int
        let answer: [UInt8]
        let errorTypeHeader: String?
        do {
            let response = try await self.http.execute(request, timeout: TimeAmount(remaining))
            status = Int(response.status.code)
            errorTypeHeader = response.headers.first(name: "x-amzn-ErrorType")
            answer = Array(buffer: try await response.body.collect(upTo: 64 * 1024 * 1024))
        } catch {
            throw DynamoDBError(code: .unreachable, message: "no answer from \(self.endpoint): \(error)", operation: name, cause: error)
        }
        guard status == 200 else {
            var error = Self.error(status: status, body: answer, errorTypeHeader: errorTypeHeader, operation: name)
            // A signature failure's message quotes the canonical request, session token included.
            error.message = Self.redacting([credentials.secretAccessKey, credentials.sessionToken], in: error.message)
            throw error
        }
        return answer
    }

    static func redacting(_ secrets: [String?], in text: String) -> String {
        var text = text
        for case let secret? in secrets where !secret.isEmpty {
            text = text.replacing(secret, with: "<redacted>")
        }
        return text
    }

    /// The JSON error body: `__type` (`com.amazonaws.dynamodb.v20120810#Code`), `message`,
    /// and the cancellation reasons or the item where there are some.
    private struct ErrorBody: Decodable {
        var type: String?
        var message: String?
        var capitalizedMessage: String?
        var cancellationReasons: [DynamoDBError.CancellationReason]?
        var item: Item?
        enum CodingKeys: String, CodingKey {
            case type = "__type", message, capitalizedMessage = "Message", cancellationReasons = "CancellationReasons", item = "Item"
        }
    }

    static func error(status: Int, body: [UInt8], errorTypeHeader: String?, operation: String) -> DynamoDBError {
        let decoded = try? JSONDecoder().decode(ErrorBody.self, from: Data(body))
        let type = Self.errorType(decoded?.type) ?? Self.errorType(errorTypeHeader) ?? Self.queryProtocolErrorCode(body)
        var code = DynamoDBError.code(forAWSErrorType: type, httpStatus: status)
        if case .transactionCanceled = code { code = .transactionCanceled(decoded?.cancellationReasons ?? []) }
        let message = decoded?.message ?? decoded?.capitalizedMessage ?? "HTTP \(status)"
        return DynamoDBError(code: code, message: message, operation: operation, awsErrorType: type, httpStatus: status, item: decoded?.item)
    }

    /// The `<Code>` of an XML error answer (the Query protocol's, which some front ends and
    /// moto use for signature failures).
    static func queryProtocolErrorCode(_ body: [UInt8]) -> String? {
        let text = String(decoding: body.prefix(4096), as: UTF8.self)
        guard let start = text.firstRange(of: "<Code>"), let end = text[start.upperBound...].firstRange(of: "</Code>") else { return nil }
        let code = text[start.upperBound..<end.lowerBound]
        return code.isEmpty || code.contains(where: { !$0.isLetter && !$0.isNumber && $0 != "." }) ? nil : String(code)
    }

    /// `prefix#Code` or `Code:suffix` to `Code`.
    static func errorType(_ raw: String?) -> String? {
        guard let raw, !raw.isEmpty else { return nil }
        var text = Substring(raw)
        if let hash = text.lastIndex(of: "#") { text = text[text.index(after: hash)...] }
        if let colon = text.firstIndex(of: ":") { text = text[..<colon] }
        return text.isEmpty ? nil : String(text)
    }
}

extension DynamoDBClient {
    public func createTable(_ request: CreateTable, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> CreateTable.Output {
        try await self.send(request, deadline: deadline)
    }

    public func describeTable(_ request: DescribeTable, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> DescribeTable.Output {
        try await self.send(request, deadline: deadline)
    }

    public func updateTimeToLive(_ request: UpdateTimeToLive, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> UpdateTimeToLive.Output {
        try await self.send(request, deadline: deadline)
    }

    public func describeTimeToLive(_ request: DescribeTimeToLive, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> DescribeTimeToLive.Output {
        try await self.send(request, deadline: deadline)
    }

    public func getItem(_ request: GetItem, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> GetItem.Output {
        try await self.send(request, deadline: deadline)
    }

    @discardableResult
    public func putItem(_ request: PutItem, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> WriteOutput {
        try await self.send(request, deadline: deadline)
    }

    @discardableResult
    public func updateItem(_ request: UpdateItem, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> WriteOutput {
        try await self.send(request, deadline: deadline)
    }

    @discardableResult
    public func deleteItem(_ request: DeleteItem, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> WriteOutput {
        try await self.send(request, deadline: deadline)
    }

    public func query(_ request: Query, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> Query.Output {
        try await self.send(request, deadline: deadline)
    }

    /// Every page of `request`, following `LastEvaluatedKey`; items in order.
    public func queryAll(_ request: Query, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> [Item] {
        var page = request
        var items: [Item] = []
        while true {
            let output = try await self.send(page, deadline: deadline)
            items += output.items
            guard let next = output.lastEvaluatedKey, !next.isEmpty else { return items }
            page.exclusiveStartKey = next
        }
    }

    public func transactWriteItems(_ request: TransactWriteItems, deadline: ContinuousClock.Instant) async throws(DynamoDBError) {
        _ = try await self.send(request, deadline: deadline)
    }
}
