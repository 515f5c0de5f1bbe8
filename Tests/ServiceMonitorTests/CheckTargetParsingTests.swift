import ServiceMonitor
import Testing
import TestSupport

@Suite("Parsing --monitor-url", .tags(.fast))
struct CheckTargetParsingTests {
    struct Valid: Sendable, CustomTestStringConvertible {
        var input: String
        var kind: CheckTarget.Kind
        var host: String
        var port: Int
        var pathAndQuery: String
        var testDescription: String { self.input }
    }

    static let valid: [Valid] = [
        .init(input: "http://127.0.0.1:9200/_cluster/health", kind: .http, host: "127.0.0.1", port: 9200, pathAndQuery: "/_cluster/health"),
        .init(input: "http://example.com", kind: .http, host: "example.com", port: 80, pathAndQuery: "/"),
        .init(input: "HTTPS://Example.COM/", kind: .https, host: "example.com", port: 443, pathAndQuery: "/"),
        .init(input: "https://db-1.internal:8443/health?verbose=1&x=%20y", kind: .https, host: "db-1.internal", port: 8443, pathAndQuery: "/health?verbose=1&x=%20y"),
        .init(input: "http://localhost:8080?ready", kind: .http, host: "localhost", port: 8080, pathAndQuery: "/?ready"),
        .init(input: "http://localhost/status#section", kind: .http, host: "localhost", port: 80, pathAndQuery: "/status"),
        .init(input: "http://[::1]:9200/", kind: .http, host: "::1", port: 9200, pathAndQuery: "/"),
        .init(input: "tcp://127.0.0.1:5432", kind: .tcp, host: "127.0.0.1", port: 5432, pathAndQuery: ""),
        .init(input: "tcp://[fe80::1]:22/", kind: .tcp, host: "fe80::1", port: 22, pathAndQuery: ""),
        .init(input: "tcp://redis:65535", kind: .tcp, host: "redis", port: 65535, pathAndQuery: ""),
        .init(input: "grpc://127.0.0.1:50051", kind: .grpc, host: "127.0.0.1", port: 50051, pathAndQuery: ""),
        .init(input: "grpc://127.0.0.1:50051/", kind: .grpc, host: "127.0.0.1", port: 50051, pathAndQuery: ""),
        .init(input: "GRPCS://Etcd-1.Internal:2379/etcdserverpb.KV", kind: .grpcs, host: "etcd-1.internal", port: 2379, pathAndQuery: "/etcdserverpb.KV"),
        .init(input: "grpc://[::1]:9090/my_app.Health-v2", kind: .grpc, host: "::1", port: 9090, pathAndQuery: "/my_app.Health-v2"),
        .init(input: "grpc://h:1/svc#ignored", kind: .grpc, host: "h", port: 1, pathAndQuery: "/svc"),
    ]

    @Test("valid URLs", arguments: Self.valid)
    func parsesValid(_ case_: Valid) throws {
        let target = try CheckTarget(parsing: case_.input)
        #expect(target.kind == case_.kind)
        #expect(target.host == case_.host)
        #expect(target.port == case_.port)
        #expect(target.pathAndQuery == case_.pathAndQuery)
    }

    @Test("the normalized URL has an explicit port and brackets IPv6 hosts")
    func normalizedURL() throws {
        #expect(try CheckTarget(parsing: "HTTP://Host").url == "http://host:80/")
        #expect(try CheckTarget(parsing: "http://[::1]:81/a?b").url == "http://[::1]:81/a?b")
        #expect(try CheckTarget(parsing: "tcp://h:1").description == "tcp://h:1")
        #expect(try CheckTarget(parsing: "grpc://H:1/").url == "grpc://h:1")
        #expect(try CheckTarget(parsing: "grpcs://[::1]:1/a.B").url == "grpcs://[::1]:1/a.B")
    }

    @Test("a grpc(s) URL's path without its '/' is the service the health check asks about")
    func grpcService() throws {
        #expect(try CheckTarget(parsing: "grpc://h:1/db.Primary").grpcService == "db.Primary")
        #expect(try CheckTarget(parsing: "grpcs://h:1/").grpcService == "")
        #expect(try CheckTarget(parsing: "grpc://h:1").grpcService == "")
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        var input: String
        var code: BadInput.Code
        var message: String
        var testDescription: String { self.input.debugDescription }
    }

    static let invalid: [Invalid] = [
        .init(input: "ftp://x", code: .unsupportedScheme,
              message: #"--monitor-url "ftp://x": unsupported scheme "ftp" (use http, https, tcp, grpc or grpcs)"#),
        .init(input: "udp://127.0.0.1:53", code: .unsupportedScheme,
              message: #"--monitor-url "udp://127.0.0.1:53": unsupported scheme "udp" (use http, https, tcp, grpc or grpcs)"#),
        .init(input: "", code: .malformedURL, message: #"--monitor-url "": empty URL"#),
        .init(input: "127.0.0.1:9200", code: .malformedURL,
              message: #"--monitor-url "127.0.0.1:9200": not a URL, expected scheme://host[:port][/path]"#),
        .init(input: "1http://x", code: .malformedURL, message: #"--monitor-url "1http://x": "1http" is not a URL scheme"#),
        .init(input: "http://", code: .missingHost, message: #"--monitor-url "http://": missing host"#),
        .init(input: "http:///health", code: .missingHost, message: #"--monitor-url "http:///health": missing host"#),
        .init(input: "tcp://:5432", code: .missingHost, message: #"--monitor-url "tcp://:5432": missing host"#),
        .init(input: "http://[]:80/", code: .missingHost, message: #"--monitor-url "http://[]:80/": missing host"#),
        .init(input: "tcp://127.0.0.1", code: .invalidPort,
              message: #"--monitor-url "tcp://127.0.0.1": tcp:// needs a port, e.g. tcp://127.0.0.1:5432"#),
        .init(input: "tcp://127.0.0.1:", code: .invalidPort, message: #"--monitor-url "tcp://127.0.0.1:": empty port after ':'"#),
        .init(input: "http://h:0/", code: .invalidPort, message: #"--monitor-url "http://h:0/": invalid port "0" (expected 1-65535)"#),
        .init(input: "http://h:65536/", code: .invalidPort, message: #"--monitor-url "http://h:65536/": invalid port "65536" (expected 1-65535)"#),
        .init(input: "tcp://h:ssh", code: .invalidPort, message: #"--monitor-url "tcp://h:ssh": invalid port "ssh" (expected 1-65535)"#),
        .init(input: "tcp://h:-1", code: .invalidPort, message: #"--monitor-url "tcp://h:-1": invalid port "-1""#),
        .init(input: "http://exa mple.com/", code: .whitespaceInURL,
              message: #"--monitor-url "http://exa mple.com/": contains whitespace " ""#),
        .init(input: " http://h/", code: .whitespaceInURL, message: #"--monitor-url " http://h/": contains whitespace"#),
        .init(input: "http://h/\n", code: .whitespaceInURL, message: #"--monitor-url "http://h/\n": contains whitespace "\n""#),
        .init(input: "http://h/\u{7}", code: .whitespaceInURL, message: #"--monitor-url "http://h/\u{07}": contains a control character"#),
        .init(input: "http://user:pw@h/", code: .malformedURL, message: #"--monitor-url "http://user:pw@h/": credentials in the URL are not supported"#),
        .init(input: "http://::1:80/", code: .malformedURL, message: #"--monitor-url "http://::1:80/": too many ':' in the host"#),
        .init(input: "http://[::1/", code: .malformedURL, message: #"--monitor-url "http://[::1/": unterminated IPv6 address"#),
        .init(input: "http://[::1]x/", code: .malformedURL, message: #"--monitor-url "http://[::1]x/": unexpected "x" after the IPv6 address"#),
        .init(input: "http://ho$t/", code: .malformedURL, message: #"--monitor-url "http://ho$t/": invalid host "ho$t""#),
        .init(input: "http://h/a|b", code: .malformedURL, message: #"--monitor-url "http://h/a|b": invalid character "|" in the path"#),
        .init(input: "http://h/%zz", code: .malformedURL, message: #"--monitor-url "http://h/%zz": invalid percent-escape in the path"#),
        .init(input: "tcp://h:1/path", code: .malformedURL, message: #"--monitor-url "tcp://h:1/path": tcp:// takes no path or query, found "/path""#),
        .init(input: "grpc://127.0.0.1", code: .invalidPort,
              message: #"--monitor-url "grpc://127.0.0.1": grpc:// needs a port, e.g. grpc://127.0.0.1:50051"#),
        .init(input: "grpcs://h/svc", code: .invalidPort, message: #"--monitor-url "grpcs://h/svc": grpcs:// needs a port, e.g. grpcs://127.0.0.1:50051"#),
        .init(input: "grpc://h:1/a/b", code: .malformedURL, message: #"--monitor-url "grpc://h:1/a/b": invalid gRPC service name "a/b""#),
        .init(input: "grpc://h:1/a%20b", code: .malformedURL, message: #"--monitor-url "grpc://h:1/a%20b": invalid gRPC service name "a%20b""#),
        .init(input: "grpc://h:1/.svc", code: .malformedURL, message: #"--monitor-url "grpc://h:1/.svc": invalid gRPC service name ".svc""#),
        .init(input: "grpc://h:1//", code: .malformedURL, message: #"--monitor-url "grpc://h:1//": invalid gRPC service name "/""#),
        .init(input: "grpc://h:1/svc?x=1", code: .malformedURL, message: #"--monitor-url "grpc://h:1/svc?x=1": gRPC URLs take no query, found "/svc?x=1""#),
    ]

    @Test("invalid URLs are bad input naming the value", arguments: Self.invalid)
    func rejectsInvalid(_ case_: Invalid) {
        #expect {
            _ = try CheckTarget(parsing: case_.input)
        } throws: { error in
            guard let error = error as? BadInput else { return false }
            return error.code == case_.code && error.description.hasPrefix(case_.message) && error.exitStatus == .usage
        }
    }

    @Test("the error message is one line and quotes the exact value")
    func messageShape() throws {
        let error = try #require(throws: BadInput.self) { try CheckTarget(parsing: "ftp://x") }
        #expect(error.description == #"--monitor-url "ftp://x": unsupported scheme "ftp" (use http, https, tcp, grpc or grpcs)"#)
        #expect(!error.message.contains("\n"))
    }
}
