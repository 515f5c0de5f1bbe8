public import AsyncHTTPClient
import FoundationEssentials
import NIOCore
import NIOHTTP1
import Posix

/// The HTTP the container and instance-metadata sources use: one request, a body of at most
/// 64 KiB, every failure a ``DynamoDBError`` (`unreachable` when nothing answered).
public struct MetadataHTTP: Sendable {
    let client: HTTPClient
    /// How long one metadata request may take: the endpoints are local, an absent one should
    /// not hold up the chain (the SDKs use about a second).
    let requestTimeout: Duration

    public init(client: HTTPClient = .shared, requestTimeout: Duration = .seconds(1)) {
        self.client = client
        self.requestTimeout = requestTimeout
    }

    struct Answer {
        var status: Int
        var body: [UInt8]
        var text: String { String(decoding: self.body, as: UTF8.self) }
    }

    func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], step: String, deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let timeout = min(self.requestTimeout, max(.zero, deadline - .now))
        do {
            let response = try await self.client.execute(request, timeout: TimeAmount(timeout))
            let body = try await response.body.collect(upTo: 64 * 1024)
            return Answer(status: Int(response.status.code), body: Array(buffer: body))
        } catch {
            throw DynamoDBError(code: .unreachable, message: "\(step): no answer from \(Self.withoutQuery(url))", operation: step, cause: error)
        }
    }

    /// The URL without its query (which could carry something private).
    static func withoutQuery(_ url: String) -> String {
        url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// The JSON both metadata endpoints answer with.
struct MetadataCredentialsDocument: Decodable {
    var code: String?
    var accessKeyId: String
    var secretAccessKey: String
    var token: String?
    var expiration: String?

    enum CodingKeys: String, CodingKey {
        case code = "Code", accessKeyId = "AccessKeyId", secretAccessKey = "SecretAccessKey", token = "Token", expiration = "Expiration"
    }

    static func credentials(from body: [UInt8], source: String) throws(DynamoDBError) -> AWSCredentials {
        let document: MetadataCredentialsDocument
        do {
            document = try JSONDecoder().decode(MetadataCredentialsDocument.self, from: Data(body))
        } catch {
            // The body may hold a secret: only the decoding failure's kind is kept.
            throw DynamoDBError(code: .credentialsUnavailable, message: "\(source): the credentials document is not what AWS sends", operation: source)
        }
        if let code = document.code, code != "Success" {
            throw DynamoDBError(code: .credentialsUnavailable, message: "\(source): credentials document says Code \(code.debugDescription)", operation: source)
        }
        var expiration: Date?
        if let text = document.expiration {
            guard let parsed = CivilTime.parseISO8601(text) else {
                throw DynamoDBError(code: .credentialsUnavailable, message: "\(source): unreadable Expiration \(text.debugDescription)", operation: source)
            }
            expiration = parsed
        }
        return AWSCredentials(
            accessKeyID: document.accessKeyId, secretAccessKey: document.secretAccessKey, sessionToken: document.token,
            expiration: expiration, source: source
        )
    }
}

/// The ECS/EKS container credentials endpoint: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`
/// (against `http://169.254.170.2`) or `AWS_CONTAINER_CREDENTIALS_FULL_URI`, with
/// `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` or `AWS_CONTAINER_AUTHORIZATION_TOKEN` as the
/// `Authorization` header. Not configured (neither URI set): no credentials here.
public struct ContainerCredentialsSource: AWSCredentialsSource {
    public let name = "container"
    let environment: [String: String]
    let http: MetadataHTTP

    public init(environment: [String: String], http: MetadataHTTP = MetadataHTTP()) {
        self.environment = environment
        self.http = http
    }

    /// Plain HTTP only to these hosts (loopback, the ECS and EKS agents), as the SDKs allow.
    static func allowsPlainHTTP(host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]" || host == "169.254.170.2" || host == "169.254.170.23"
            || host == "fd00:ec2::23" || host == "[fd00:ec2::23]"
    }

    /// The endpoint the variables name; `nil` when neither is set.
    func endpointURL() throws(DynamoDBError) -> String? {
        if let relative = self.environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"], !relative.isEmpty {
            return "http://169.254.170.2" + (relative.hasPrefix("/") ? relative : "/" + relative)
        }
        if let full = self.environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"], !full.isEmpty {
            guard let parsed = URL(string: full), let scheme = parsed.scheme?.lowercased(), let host = parsed.host,
                scheme == "https" || (scheme == "http" && Self.allowsPlainHTTP(host: host))
            else {
                throw DynamoDBError(
                    code: .credentialsUnavailable,
                    message: "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback or container-agent address: \(MetadataHTTP.withoutQuery(full))"
                )
            }
            return full
        }
        return nil
    }

    public func fetch(deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> AWSCredentials? {
        guard let url = try self.endpointURL() else { return nil }
        var headers: [(String, String)] = []
        if let tokenFile = self.environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"], !tokenFile.isEmpty {
            let token: String
            do {
                token = try File.text(atPath: tokenFile).trimmingWhitespace().filter { $0 != "\n" }
            } catch {
                throw DynamoDBError(code: .credentialsUnavailable, message: "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(tokenFile): \(error)", operation: self.name, cause: error)
            }
            headers.append(("Authorization", token))
        } else if let token = self.environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"], !token.isEmpty {
            headers.append(("Authorization", token))
        }
        let answer = try await self.http.send(.GET, url, headers: headers, step: self.name, deadline: deadline)
        guard answer.status == 200 else {
            throw DynamoDBError(
                code: answer.status == 401 || answer.status == 403 ? .accessDenied : .credentialsUnavailable,
                message: "container credentials endpoint answered HTTP \(answer.status)", operation: self.name, httpStatus: answer.status
            )
        }
        return try MetadataCredentialsDocument.credentials(from: answer.body, source: self.name)
    }
}

/// EC2 instance metadata, IMDSv2 only: a session token from `PUT /latest/api/token`, then the
/// role name and its credentials under `/latest/meta-data/iam/security-credentials/`.
/// `AWS_EC2_METADATA_SERVICE_ENDPOINT` moves it, `AWS_EC2_METADATA_DISABLED=true` turns it off.
/// Nothing answering (not on EC2) means no credentials here.
public struct InstanceMetadataCredentialsSource: AWSCredentialsSource {
    public let name = "IMDS"
    let environment: [String: String]
    let http: MetadataHTTP
    /// The session token's lifetime asked for.
    static let tokenLifetimeSeconds = 21_600

    public init(environment: [String: String], http: MetadataHTTP = MetadataHTTP()) {
        self.environment = environment
        self.http = http
    }

    var endpoint: String {
        var endpoint = self.environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "http://169.254.169.254"
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        return endpoint
    }

    public func fetch(deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> AWSCredentials? {
        if self.environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" { return nil }
        let tokenAnswer: MetadataHTTP.Answer
        do {
            tokenAnswer = try await self.http.send(
                .PUT, "\(self.endpoint)/latest/api/token", headers: [("X-aws-ec2-metadata-token-ttl-seconds", String(Self.tokenLifetimeSeconds))],
                step: self.name, deadline: deadline
            )
        } catch where error.code == .unreachable {
            return nil  // not on EC2
        }
        guard tokenAnswer.status == 200 else {
            throw DynamoDBError(code: .credentialsUnavailable, message: "IMDS refused a session token: HTTP \(tokenAnswer.status)", operation: self.name, httpStatus: tokenAnswer.status)
        }
        let token = [("X-aws-ec2-metadata-token", tokenAnswer.text)]
        let base = "\(self.endpoint)/latest/meta-data/iam/security-credentials/"
        let roles = try await self.http.send(.GET, base, headers: token, step: self.name, deadline: deadline)
        if roles.status == 404 { return nil }  // an instance without a role
        guard roles.status == 200, let role = roles.text.split(whereSeparator: \.isNewline).first.map({ $0.trimmingWhitespace() }), !role.isEmpty else {
            throw DynamoDBError(code: .credentialsUnavailable, message: "IMDS role name: HTTP \(roles.status)", operation: self.name, httpStatus: roles.status)
        }
        let document = try await self.http.send(.GET, base + role, headers: token, step: self.name, deadline: deadline)
        guard document.status == 200 else {
            throw DynamoDBError(code: .credentialsUnavailable, message: "IMDS credentials of role \(role): HTTP \(document.status)", operation: self.name, httpStatus: document.status)
        }
        return try MetadataCredentialsDocument.credentials(from: document.body, source: self.name)
    }
}
