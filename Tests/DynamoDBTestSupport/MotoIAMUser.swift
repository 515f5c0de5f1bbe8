import AsyncHTTPClient
public import DynamoDB
import Foundation
import NIOCore
import NIOHTTP1
public import TestSupport

extension MotoServer {
    /// A user created in moto's IAM mode, allowed everything on DynamoDB, and its access key:
    /// three IAM calls, so start the server with `INITIAL_NO_AUTH_ACTION_COUNT=3` (the calls
    /// before that count need no authentication; every later one does).
    public func createIAMUser(named name: String = "service-monitor") async throws -> AWSCredentials {
        _ = try await iam([("Action", "CreateUser"), ("UserName", name)])
        let key = try await iam([("Action", "CreateAccessKey"), ("UserName", name)])
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:*","Resource":"*"}]}"#
        _ = try await iam([("Action", "PutUserPolicy"), ("UserName", name), ("PolicyName", "dynamodb"), ("PolicyDocument", policy)])
        return AWSCredentials(accessKeyID: try Self.element("AccessKeyId", in: key), secretAccessKey: try Self.element("SecretAccessKey", in: key))
    }

    /// One IAM Query API call, signed (moto routes by the credential scope's service).
    private func iam(_ parameters: [(String, String)]) async throws -> String {
        let body = Array((parameters + [("Version", "2010-05-08")]).map { "\($0.0)=\(SigV4Signer.percentEncoded($0.1))" }.joined(separator: "&").utf8)
        let host = "127.0.0.1:\(port)"
        let signed = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AKIDBOOTSTRAP", secretAccessKey: "bootstrap"), region: "us-east-1", service: "iam")
            .sign(method: "POST", headers: [("Host", host), ("Content-Type", "application/x-www-form-urlencoded")], body: body, at: Date())
        var request = HTTPClientRequest(url: endpoint + "/")
        request.method = .POST
        request.headers.add(name: "Host", value: host)
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        for header in signed.headers { request.headers.add(name: header.name, value: header.value) }
        request.body = .bytes(body)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status == .ok else { throw CommandError(description: "IAM \(parameters.first?.1 ?? ""): \(response.status) \(text)") }
        return text
    }

    private static func element(_ name: String, in xml: String) throws -> String {
        guard let open = xml.range(of: "<\(name)>"), let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex) else {
            throw CommandError(description: "no <\(name)> in \(xml)")
        }
        return String(xml[open.upperBound..<close.lowerBound])
    }
}
