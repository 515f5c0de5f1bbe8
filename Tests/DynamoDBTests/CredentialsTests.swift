@testable import DynamoDB
import Foundation
import NIOHTTP1
import Synchronization
import Testing
import TestSupport

/// The credential chain and each source: environment and shared files with real files, the
/// container endpoint and IMDSv2 against real HTTP servers on loopback.
@Suite(.tags(.fast), .shares(.processDescriptors))
struct CredentialsTests {
    static var deadline: ContinuousClock.Instant { .now + .seconds(10) }

    /// A directory with `credentials` and `config` files of the given contents.
    static func sharedFiles(credentials: String?, config: String?) throws -> String {
        let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "aws-files")
        if let credentials { try credentials.write(toFile: "\(directory)/credentials", atomically: true, encoding: .utf8) }
        if let config { try config.write(toFile: "\(directory)/config", atomically: true, encoding: .utf8) }
        return directory
    }

    static func filesEnvironment(_ directory: String, profile: String? = nil) -> [String: String] {
        var environment = ["AWS_SHARED_CREDENTIALS_FILE": "\(directory)/credentials", "AWS_CONFIG_FILE": "\(directory)/config", "AWS_EC2_METADATA_DISABLED": "true"]
        environment["AWS_PROFILE"] = profile
        return environment
    }

    @Test
    func environmentComesFirst() async throws {
        let directory = try Self.sharedFiles(credentials: "[default]\naws_access_key_id = FROMFILE\naws_secret_access_key = s\n", config: nil)
        var environment = Self.filesEnvironment(directory)
        environment["AWS_ACCESS_KEY_ID"] = "FROMENV"
        environment["AWS_SECRET_ACCESS_KEY"] = "envsecret"
        environment["AWS_SESSION_TOKEN"] = "envtoken"
        let credentials = try await AWSCredentialsChain.standard(environment: environment).credentials(deadline: Self.deadline)
        #expect(credentials == AWSCredentials(accessKeyID: "FROMENV", secretAccessKey: "envsecret", sessionToken: "envtoken", source: "environment"))

        environment["AWS_SECRET_ACCESS_KEY"] = nil
        await #expect(throws: DynamoDBError.self) { try await AWSCredentialsChain.standard(environment: environment).credentials(deadline: Self.deadline) }
    }

    @Test
    func sharedFilesWithProfiles() async throws {
        let directory = try Self.sharedFiles(
            credentials: """
                # comment
                [default]
                aws_access_key_id = DEFAULTKEY
                aws_secret_access_key = default/secret+with#hash

                [work]
                aws_access_key_id=WORKKEY
                aws_secret_access_key=worksecret
                aws_session_token = worktoken ; inline comment
                """,
            config: """
                [default]
                region = eu-west-1

                [profile work]
                region = us-west-2
                aws_access_key_id = OVERRIDDEN

                [profile configonly]
                region = ap-south-1
                aws_access_key_id = CONFIGKEY
                aws_secret_access_key = configsecret
                s3 =
                  max_concurrent_requests = 20
                """
        )
        let standard = try await AWSCredentialsChain.standard(environment: Self.filesEnvironment(directory)).credentials(deadline: Self.deadline)
        #expect(standard.accessKeyID == "DEFAULTKEY")
        #expect(standard.secretAccessKey == "default/secret+with#hash")
        #expect(standard.sessionToken == nil)
        #expect(try AWSRegion.resolve(environment: Self.filesEnvironment(directory)) == "eu-west-1")

        // The credentials file wins over the config file for the same profile.
        let work = try await AWSCredentialsChain.standard(environment: Self.filesEnvironment(directory, profile: "work")).credentials(deadline: Self.deadline)
        #expect(work == AWSCredentials(accessKeyID: "WORKKEY", secretAccessKey: "worksecret", sessionToken: "worktoken", source: "profile work"))
        #expect(try AWSRegion.resolve(environment: Self.filesEnvironment(directory, profile: "work")) == "us-west-2")

        let configOnly = try await AWSCredentialsChain.standard(environment: Self.filesEnvironment(directory, profile: "configonly")).credentials(deadline: Self.deadline)
        #expect(configOnly.accessKeyID == "CONFIGKEY")
        #expect(try AWSRegion.resolve(environment: Self.filesEnvironment(directory, profile: "configonly")) == "ap-south-1")
    }

    @Test
    func unusableFilesAndMissingProfilesAreErrors() async throws {
        let directory = try Self.sharedFiles(credentials: "[half]\naws_access_key_id = ONLYKEY\n", config: "[default]\nregion = eu-west-1\n")
        for profile in ["half", "absent"] {
            await #expect {
                try await AWSCredentialsChain.standard(environment: Self.filesEnvironment(directory, profile: profile)).credentials(deadline: Self.deadline)
            } throws: { ($0 as? DynamoDBError)?.code == .credentialsFileUnusable }
        }
        // A file that exists but cannot be read (a directory here: root reads any file).
        let unreadable = try EtcdTestPaths.makeTemporaryDirectory(prefix: "aws-files")
        try FileManager.default.createDirectory(atPath: "\(unreadable)/credentials", withIntermediateDirectories: true)
        await #expect {
            try await AWSCredentialsChain.standard(environment: Self.filesEnvironment(unreadable)).credentials(deadline: Self.deadline)
        } throws: { ($0 as? DynamoDBError)?.code == .credentialsFileUnusable }
        // No files, no environment, IMDS off: nothing anywhere.
        let empty = try EtcdTestPaths.makeTemporaryDirectory(prefix: "aws-files")
        await #expect {
            try await AWSCredentialsChain.standard(environment: Self.filesEnvironment(empty)).credentials(deadline: Self.deadline)
        } throws: { ($0 as? DynamoDBError)?.code == .credentialsUnavailable }
    }

    static func credentialsDocument(key: String, expiresIn seconds: TimeInterval) -> String {
        let expiration = Date().addingTimeInterval(seconds)
        let formatter = ISO8601DateFormatter()
        return #"{"Code":"Success","AccessKeyId":"\#(key)","SecretAccessKey":"secret-\#(key)","Token":"token-\#(key)","Expiration":"\#(formatter.string(from: expiration))"}"#
    }

    @Test
    func containerEndpointWithAuthorizationToken() async throws {
        let fetches = Locked(0)
        try await withScriptedHTTPServer({ request in
            guard request.uri == "/v2/credentials/abc", request.headers.first(name: "Authorization") == "token-from-file" else {
                return .init(status: 403)
            }
            let count = fetches.withLock { $0 += 1; return $0 }
            return .init(status: 200, body: Self.credentialsDocument(key: "CONTAINER\(count)", expiresIn: 3600))
        }) { server in
            let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "aws-token")
            try "token-from-file\n".write(toFile: "\(directory)/token", atomically: true, encoding: .utf8)
            var environment = Self.filesEnvironment(directory)
            environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = "\(server.baseURL)/v2/credentials/abc"
            environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = "\(directory)/token"
            environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "ignored-when-a-file-is-given"
            let chain = AWSCredentialsChain.standard(environment: environment)
            let credentials = try await chain.credentials(deadline: Self.deadline)
            #expect(credentials.accessKeyID == "CONTAINER1")
            #expect(credentials.secretAccessKey == "secret-CONTAINER1")
            #expect(credentials.sessionToken == "token-CONTAINER1")
            #expect(credentials.source == "container")
            let expiration = try #require(credentials.expiration)
            #expect(abs(expiration.timeIntervalSinceNow - 3600) < 5)
            // Valid for an hour: cached, not fetched again.
            _ = try await chain.credentials(deadline: Self.deadline)
            #expect(fetches.withLock { $0 } == 1)

            // The token from the variable when no file is named; a refused token is accessDenied.
            environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] = nil
            await #expect {
                try await AWSCredentialsChain.standard(environment: environment).credentials(deadline: Self.deadline)
            } throws: { ($0 as? DynamoDBError)?.code == .accessDenied }
            #expect(server.requests.last?.headers.first(name: "Authorization") == "ignored-when-a-file-is-given")
        }
    }

    @Test
    func containerFullURIMustBeLoopbackOrHTTPS() async throws {
        await #expect {
            try await ContainerCredentialsSource(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.1/creds"]).fetch(deadline: Self.deadline)
        } throws: { ($0 as? DynamoDBError)?.code == .credentialsUnavailable }
        #expect(try await ContainerCredentialsSource(environment: [:]).fetch(deadline: Self.deadline) == nil)
        // The relative form goes to the ECS agent's address; it wins over the full form.
        let relative = ContainerCredentialsSource(environment: ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/id", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1/x"])
        #expect(try relative.endpointURL() == "http://169.254.170.2/v2/credentials/id")
        #expect(try ContainerCredentialsSource(environment: ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "https://creds.example/x"]).endpointURL() == "https://creds.example/x")
    }

    /// An IMDSv2 stand-in: a session token for PUT /latest/api/token with a TTL header, and
    /// the role and its credentials only for requests carrying that token.
    static func instanceMetadata(fetches: Locked<Int>, expiresIn: TimeInterval) -> ScriptedHTTPServer.Responder {
        { request in
            let sessionToken = "imds-session-token"
            switch (request.method, request.uri) {
            case (.PUT, "/latest/api/token"):
                guard request.headers.first(name: "X-aws-ec2-metadata-token-ttl-seconds") != nil else { return .init(status: 400) }
                return .init(status: 200, body: sessionToken)
            case (.GET, let uri) where uri.hasPrefix("/latest/meta-data/iam/security-credentials/"):
                guard request.headers.first(name: "X-aws-ec2-metadata-token") == sessionToken else { return .init(status: 401) }
                if uri == "/latest/meta-data/iam/security-credentials/" { return .init(status: 200, body: "service-monitor-role\n") }
                guard uri == "/latest/meta-data/iam/security-credentials/service-monitor-role" else { return .init(status: 404) }
                let count = fetches.withLock { $0 += 1; return $0 }
                return .init(status: 200, body: Self.credentialsDocument(key: "IMDS\(count)", expiresIn: expiresIn))
            default:
                return .init(status: 404)
            }
        }
    }

    @Test
    func instanceMetadataV2AndRefreshBeforeExpiration() async throws {
        let fetches = Locked(0)
        // Expiring in 60 s, inside the 300 s refresh margin: every call fetches anew.
        try await withScriptedHTTPServer(Self.instanceMetadata(fetches: fetches, expiresIn: 60)) { server in
            let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "aws-files")
            var environment = Self.filesEnvironment(directory)
            environment["AWS_EC2_METADATA_DISABLED"] = nil
            environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = server.baseURL + "/"
            let chain = AWSCredentialsChain.standard(environment: environment)
            let first = try await chain.credentials(deadline: Self.deadline)
            #expect(first.accessKeyID == "IMDS1")
            #expect(first.sessionToken == "token-IMDS1")
            #expect(first.source == "IMDS")
            let second = try await chain.credentials(deadline: Self.deadline)
            #expect(second.accessKeyID == "IMDS2")
            let methods = server.requests.map { "\($0.method) \($0.uri)" }
            #expect(Array(methods.prefix(3)) == ["PUT /latest/api/token", "GET /latest/meta-data/iam/security-credentials/", "GET /latest/meta-data/iam/security-credentials/service-monitor-role"])

            // Turned off, the chain does not ask it.
            environment["AWS_EC2_METADATA_DISABLED"] = "true"
            let asked = server.requests.count
            await #expect {
                try await AWSCredentialsChain.standard(environment: environment).credentials(deadline: Self.deadline)
            } throws: { ($0 as? DynamoDBError)?.code == .credentialsUnavailable }
            #expect(server.requests.count == asked)
        }
        // Far from expiring: cached.
        let cachedFetches = Locked(0)
        try await withScriptedHTTPServer(Self.instanceMetadata(fetches: cachedFetches, expiresIn: 3600)) { server in
            let chain = AWSCredentialsChain(sources: [InstanceMetadataCredentialsSource(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL])])
            for _ in 0..<3 {
                let credentials = try await chain.credentials(deadline: Self.deadline)
                #expect(credentials.accessKeyID == "IMDS1")
            }
            #expect(cachedFetches.withLock { $0 } == 1)
        }
    }

    @Test
    func concurrentCallersShareOneFetch() async throws {
        let fetches = Locked(0)
        try await withScriptedHTTPServer(Self.instanceMetadata(fetches: fetches, expiresIn: 3600)) { server in
            let chain = AWSCredentialsChain(sources: [InstanceMetadataCredentialsSource(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL])])
            let keys = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<8 { group.addTask { try await chain.credentials(deadline: Self.deadline).accessKeyID } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(keys == Array(repeating: "IMDS1", count: 8))
            #expect(fetches.withLock { $0 } == 1)
        }
    }

    @Test
    func aFailedRefreshKeepsCredentialsNotYetExpired() async throws {
        let fetches = Locked(0)
        // Valid for 60 s but inside the refresh margin; every fetch after the first fails.
        let first = Self.instanceMetadata(fetches: fetches, expiresIn: 60)
        try await withScriptedHTTPServer({ request in fetches.withLock { $0 } == 0 ? first(request) : .init(status: 500) }) { server in
            let chain = AWSCredentialsChain(sources: [InstanceMetadataCredentialsSource(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL])])
            let fetched = try await chain.credentials(deadline: Self.deadline)
            #expect(fetched.accessKeyID == "IMDS1")
            let requestsBefore = server.requests.count
            let kept = try await chain.credentials(deadline: Self.deadline)
            #expect(kept.accessKeyID == "IMDS1")
            #expect(server.requests.count > requestsBefore)  // it did try to refresh
        }
    }

    @Test
    func instanceMetadataNotAnsweringMeansNoCredentials() async throws {
        // A server that was started and stopped: its port refuses connections.
        let server = try await ScriptedHTTPServer.start { _ in .init(status: 200) }
        await server.stop()
        let source = InstanceMetadataCredentialsSource(environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": server.baseURL])
        #expect(try await source.fetch(deadline: Self.deadline) == nil)
    }
}
