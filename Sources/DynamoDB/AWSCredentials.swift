public import FoundationEssentials

/// An access key, its secret and, for temporary credentials, the session token and when they
/// expire. Printing one (description, debugDescription, dump) shows only the access key ID.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// For temporary credentials: fetch new ones before this.
    public var expiration: Date?
    /// Which source gave them (`environment`, `profile default`, `container`, `IMDS`).
    public var source: String

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil, source: String = "static") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
        self.source = source
    }

    public var description: String {
        "AWSCredentials(accessKeyID: \(self.accessKeyID), secretAccessKey: <redacted>\(self.sessionToken == nil ? "" : ", sessionToken: <redacted>"), source: \(self.source))"
    }

    public var debugDescription: String { self.description }

    public var customMirror: Mirror {
        Mirror(self, children: ["accessKeyID": self.accessKeyID, "source": self.source], displayStyle: .struct)
    }
}

/// Where the client gets credentials for each request. Implementations cache and refresh.
public protocol AWSCredentialsProvider: Sendable {
    /// Credentials valid for at least a little while; fetching gives up at `deadline`.
    func credentials(deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> AWSCredentials
}

/// Fixed credentials (tests, or keys the caller found itself).
public struct StaticCredentialsProvider: AWSCredentialsProvider {
    public let value: AWSCredentials

    public init(_ credentials: AWSCredentials) {
        self.value = credentials
    }

    public func credentials(deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> AWSCredentials {
        self.value
    }
}

/// One place credentials may come from. `nil` means "none here, ask the next source"; a throw
/// means this source is configured but broken, and ends the search (as the AWS SDKs do).
public protocol AWSCredentialsSource: Sendable {
    var name: String { get }
    func fetch(deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> AWSCredentials?
}

/// The AWS SDKs' chain: the first source with credentials wins and is remembered; its
/// credentials are cached, and temporary ones are fetched again ``refreshMargin`` before they
/// expire.
public actor AWSCredentialsChain: AWSCredentialsProvider {
    private let sources: [any AWSCredentialsSource]
    private let refreshMargin: Duration
    private var cached: AWSCredentials?
    private var answeringSource: Int?
    private var fetching = false
    private var waiting: [CheckedContinuation<Result<AWSCredentials, DynamoDBError>, Never>] = []

    public init(sources: [any AWSCredentialsSource], refreshMargin: Duration = .seconds(300)) {
        self.sources = sources
        self.refreshMargin = refreshMargin
    }

    /// Environment, shared files, container endpoint, IMDSv2: as the SDKs look, from
    /// `environment` (normally the process's).
    public static func standard(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        http: MetadataHTTP = MetadataHTTP()
    ) -> AWSCredentialsChain {
        AWSCredentialsChain(sources: [
            EnvironmentCredentialsSource(environment: environment),
            ProfileCredentialsSource(files: SharedConfigFiles(environment: environment)),
            ContainerCredentialsSource(environment: environment, http: http),
            InstanceMetadataCredentialsSource(environment: environment, http: http),
        ])
    }

    public func credentials(deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> AWSCredentials {
        if let cached = self.cached, !self.needsRefresh(cached) { return cached }
        if self.fetching {
            // One fetch at a time: the others use what is still valid, or wait for its result.
            if let cached = self.cached, !Self.hasExpired(cached) { return cached }
            return try await withCheckedContinuation { self.waiting.append($0) }.get()
        }
        self.fetching = true
        let result: Result<AWSCredentials, DynamoDBError>
        do {
            result = .success(try await self.fetchFromSources(deadline: deadline))
        } catch {
            // A failed refresh keeps credentials that have not expired yet (as the SDKs do).
            if let cached = self.cached, !Self.hasExpired(cached) { result = .success(cached) } else { result = .failure(error) }
        }
        self.fetching = false
        let waiting = self.waiting
        self.waiting = []
        for waiter in waiting { waiter.resume(returning: result) }
        return try result.get()
    }

    private func fetchFromSources(deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> AWSCredentials {
        // A source that answered before is asked first: it is where these credentials live.
        let order = self.answeringSource.map { first in [first] + self.sources.indices.filter { $0 != first } } ?? Array(self.sources.indices)
        for index in order {
            if let found = try await self.sources[index].fetch(deadline: deadline) {
                self.cached = found
                self.answeringSource = index
                return found
            }
        }
        throw DynamoDBError(
            code: .credentialsUnavailable,
            message: "no AWS credentials found (looked in: \(self.sources.map(\.name).joined(separator: ", ")))"
        )
    }

    private static func hasExpired(_ credentials: AWSCredentials) -> Bool {
        credentials.expiration.map { Date() >= $0 } ?? false
    }

    private func needsRefresh(_ credentials: AWSCredentials) -> Bool {
        guard let expiration = credentials.expiration else { return false }
        let margin = Double(self.refreshMargin.components.seconds) + Double(self.refreshMargin.components.attoseconds) / 1e18
        return Date().addingTimeInterval(margin) >= expiration
    }
}

/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and optionally `AWS_SESSION_TOKEN`.
public struct EnvironmentCredentialsSource: AWSCredentialsSource {
    public let name = "environment"
    let environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    public func fetch(deadline: ContinuousClock.Instant) async throws(DynamoDBError) -> AWSCredentials? {
        let key = self.environment["AWS_ACCESS_KEY_ID"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = self.environment["AWS_SECRET_ACCESS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        switch (key, secret) {
        case (nil, nil):
            return nil
        case (let key?, let secret?):
            let token = self.environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: token, source: self.name)
        default:
            throw DynamoDBError(
                code: .credentialsUnavailable,
                message: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together (only \(key == nil ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") is)"
            )
        }
    }
}
