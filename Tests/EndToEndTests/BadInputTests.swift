import Etcd
import Foundation
import Testing
import TestSupport

/// One malformed invocation and what docs/commands.md promises for it: the documented exit status, one
/// line on standard error naming the bad value, nothing on standard output, nothing in etcd.
struct BadInvocation: Sendable, CustomTestStringConvertible {
    var name: String
    var arguments: [String]
    var environment: [String: String] = [:]
    /// Adds `--endpoints <the suite's etcd>`; off for the cases that are about the endpoints.
    var targetsTheSuiteEtcd = true
    var exitStatus: Int32 = 64
    /// What the error line must contain: the option and the bad value as it is printed.
    var names: String
    /// What the error line must not contain (a password).
    var mustNotShow: String?

    var testDescription: String { name }
}

/// Every malformed invocation the command line must refuse before touching etcd — the one place
/// for bad input at the level of the `service-monitor` binary; the model's own rules (names,
/// durations, URLs, statuses) are also unit-tested in ServiceMonitorTests.
@Suite("Bad input", .serialized, SharedEtcd(), .timeLimit(.minutes(3)))
struct BadInputTests {
    /// A label with one instance that is up, so `hosts --template` has a record to render.
    static let seededLabel = "bad-input-seeded"

    static let cases: [BadInvocation] = globalOptions + watchOptions + names + hostsOptions + leaseOptions + runOptions

    // MARK: Global options, on every command

    static let globalOptions: [BadInvocation] = [
        BadInvocation(
            name: "endpoint without a scheme", arguments: ["status", "--endpoints", "127.0.0.1:2379"], targetsTheSuiteEtcd: false,
            names: #"--endpoints "127.0.0.1:2379""#
        ),
        BadInvocation(
            name: "endpoint with an unsupported scheme", arguments: ["hosts", "--label", "web", "--endpoints", "ftp://127.0.0.1:2379"],
            targetsTheSuiteEtcd: false, names: #"--endpoints "ftp://127.0.0.1:2379""#
        ),
        BadInvocation(
            name: "empty endpoint list", arguments: ["acquire-lease", "--label", "web", "--service-id", "w-1", "--endpoints", ""],
            targetsTheSuiteEtcd: false, names: #"--endpoints """#
        ),
        BadInvocation(
            name: "endpoint host with a space", arguments: ["status", "--endpoints", "http://etcd 1:2379"], targetsTheSuiteEtcd: false,
            names: #"--endpoints "http://etcd 1:2379""#
        ),
        BadInvocation(
            name: "endpoint host in unicode", arguments: ["release-lease", "--label", "web", "--service-id", "w-1", "--endpoints", "http://ëtcd:2379"],
            targetsTheSuiteEtcd: false, names: #"--endpoints "http://ëtcd:2379""#
        ),
        BadInvocation(
            name: "endpoint port out of range", arguments: ["status", "--endpoints", "http://127.0.0.1:99999"], targetsTheSuiteEtcd: false,
            names: #"--endpoints "http://127.0.0.1:99999""#
        ),
        BadInvocation(
            name: "endpoint with a path", arguments: ["status", "--endpoints", "http://127.0.0.1:2379/v3"], targetsTheSuiteEtcd: false,
            names: #"--endpoints "http://127.0.0.1:2379/v3""#
        ),
        BadInvocation(
            name: "SERVICE_MONITOR_ENDPOINTS not a URL", arguments: ["status"], environment: ["SERVICE_MONITOR_ENDPOINTS": "etcd-1"],
            targetsTheSuiteEtcd: false, names: #"--endpoints "etcd-1""#
        ),
        BadInvocation(
            name: "ETCDCTL_ENDPOINTS with a unix socket", arguments: ["status"], environment: ["ETCDCTL_ENDPOINTS": "unix:///run/etcd.sock"],
            targetsTheSuiteEtcd: false, names: #"--endpoints "unix:///run/etcd.sock""#
        ),
        BadInvocation(name: "empty prefix", arguments: ["status", "--prefix", ""], names: #"--prefix """#),
        BadInvocation(name: "prefix climbing out with ..", arguments: ["hosts", "--label", "web", "--prefix", "/a/../b"], names: #"--prefix "/a/../b""#),
        BadInvocation(
            name: "SERVICE_MONITOR_PREFIX with an empty segment", arguments: ["status"], environment: ["SERVICE_MONITOR_PREFIX": "/a//b"],
            names: #"--prefix "/a//b""#
        ),
        BadInvocation(name: "zero --dial-timeout", arguments: ["status", "--dial-timeout", "0s"], names: #"--dial-timeout "0s""#),
        BadInvocation(name: "negative --dial-timeout", arguments: ["status", "--dial-timeout=-5s"], names: #"--dial-timeout "-5s""#),
        BadInvocation(name: "unit-less --command-timeout", arguments: ["status", "--command-timeout", "5"], names: #"--command-timeout "5""#),
        BadInvocation(name: "garbage --command-timeout", arguments: ["status", "--command-timeout", "forever"], names: #"--command-timeout "forever""#),
        BadInvocation(name: "bogus --log-target", arguments: ["status", "--log-target", "syslog"], names: #"--log-target "syslog""#),
        BadInvocation(name: "a --backend not built in", arguments: ["hosts", "--label", "web", "--backend", "dynamo"], names: #"--backend "dynamo": use etcd, dynamodb"#),
        BadInvocation(name: "zero --poll-interval", arguments: ["hosts", "--label", "web", "--poll-interval", "0s"], names: #"--poll-interval "0s""#),
        BadInvocation(name: "garbage --poll-interval", arguments: ["status", "--backend", "dynamodb", "--poll-interval", "often"], names: #"--poll-interval "often""#),
        BadInvocation(name: "--region that is no region", arguments: ["status", "--backend", "dynamodb", "--region", "US East"], names: #"--region "US East""#),
        BadInvocation(
            name: "AWS_REGION that is no region", arguments: ["hosts", "--label", "web", "--backend", "dynamodb"], environment: ["AWS_REGION": "eu_west"],
            names: #"--region "eu_west""#
        ),
        BadInvocation(name: "--dynamodb-endpoint not http", arguments: ["status", "--backend", "dynamodb", "--dynamodb-endpoint", "ftp://x"], names: #"--dynamodb-endpoint "ftp://x""#),
        BadInvocation(
            name: "AWS_ENDPOINT_URL_DYNAMODB with a bad port", arguments: ["status", "--backend", "dynamodb"],
            environment: ["AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:0"], names: #"--dynamodb-endpoint "http://127.0.0.1:0""#
        ),
        BadInvocation(name: "--dynamodb-table too short", arguments: ["status", "--backend", "dynamodb", "--dynamodb-table", "ab"], names: #"--dynamodb-table "ab""#),
        BadInvocation(
            name: "SERVICE_MONITOR_DYNAMODB_TABLE with a slash", arguments: ["hosts", "--label", "web"],
            environment: ["SERVICE_MONITOR_DYNAMODB_TABLE": "a/b"], names: #"--dynamodb-table "a/b""#
        ),
        BadInvocation(name: "create-table on etcd", arguments: ["create-table"], names: #"--backend "etcd": create-table is for --backend dynamodb only"#),
        BadInvocation(
            name: "SERVICE_MONITOR_BACKEND unknown", arguments: watch(), environment: ["SERVICE_MONITOR_BACKEND": "consul"],
            names: #"--backend "consul""#
        ),
        BadInvocation(name: "--host-ip that is a name", arguments: watch(("--host-ip", "es-1.example")), names: #"--host-ip "es-1.example""#),
        BadInvocation(
            name: "COREOS_PRIVATE_IPV4 out of range", arguments: watch(without: "--host-ip"), environment: ["COREOS_PRIVATE_IPV4": "999.1.1.1"],
            names: #"COREOS_PRIVATE_IPV4 "999.1.1.1""#
        ),
        BadInvocation(name: "--host-ip garbage where no address is published", arguments: ["hosts", "--label", "web", "--host-ip", "garbage"], names: #"--host-ip "garbage""#),
        BadInvocation(name: "unreadable --cacert", arguments: ["status", "--cacert", "/nonexistent/ca.pem"], exitStatus: 78, names: #"--cacert "/nonexistent/ca.pem": cannot read"#),
        BadInvocation(
            name: "unreadable --cert", arguments: ["status", "--cert", "/nonexistent/client.pem", "--key", "/etc/passwd"], exitStatus: 78,
            names: #"--cert "/nonexistent/client.pem": cannot read"#
        ),
        BadInvocation(
            name: "unreadable --key", arguments: ["watch", "--cert", "/etc/passwd", "--key", "/nonexistent/client-key.pem"] + watch().dropFirst(), exitStatus: 78,
            names: #"--key "/nonexistent/client-key.pem": cannot read"#
        ),
        BadInvocation(
            name: "ETCDCTL_CACERT naming a directory", arguments: ["status"], environment: ["ETCDCTL_CACERT": "/etc"], exitStatus: 78,
            names: #"--cacert "/etc": cannot read: is a directory"#
        ),
        BadInvocation(
            name: "unreadable SERVICE_MONITOR_PASSWORD_FILE", arguments: ["status", "--user", "root"],
            environment: ["SERVICE_MONITOR_PASSWORD_FILE": "/nonexistent/password"], exitStatus: 78,
            names: #"SERVICE_MONITOR_PASSWORD_FILE "/nonexistent/password": cannot read"#
        ),
        BadInvocation(name: "--user with an empty name", arguments: ["status", "--user", ""], names: #"--user "": the user name is empty"#),
        BadInvocation(
            name: "--user with only a password", arguments: ["status", "--user", ":s3cret-pw"], names: #"--user "": the user name before the colon is empty"#,
            mustNotShow: "s3cret-pw"
        ),
        BadInvocation(name: "--user without any password", arguments: ["status", "--user", "root"], names: #"--user "root" has no password"#),
        BadInvocation(name: "unknown option", arguments: ["status", "--lable", "web"], names: "'--lable'"),
        BadInvocation(name: "unknown command", arguments: ["hots"], targetsTheSuiteEtcd: false, names: "'hots'"),
    ]

    // MARK: watch

    static let watchOptions: [BadInvocation] = [
        BadInvocation(name: "--monitor-url without a scheme", arguments: watch(("--monitor-url", "127.0.0.1:9200")), names: #"--monitor-url "127.0.0.1:9200": not a URL"#),
        BadInvocation(name: "--monitor-url with ftp://", arguments: watch(("--monitor-url", "ftp://127.0.0.1/")), names: #"--monitor-url "ftp://127.0.0.1/": unsupported scheme "ftp""#),
        BadInvocation(name: "--monitor-url tcp:// without a port", arguments: watch(("--monitor-url", "tcp://127.0.0.1")), names: #"--monitor-url "tcp://127.0.0.1": tcp:// needs a port"#),
        BadInvocation(name: "--monitor-url grpc:// without a port", arguments: watch(("--monitor-url", "grpc://127.0.0.1")), names: #"--monitor-url "grpc://127.0.0.1": grpc:// needs a port"#),
        BadInvocation(
            name: "--monitor-url grpc:// with a bad service name", arguments: watch(("--monitor-url", "grpc://127.0.0.1:50051/a/b")),
            names: #"--monitor-url "grpc://127.0.0.1:50051/a/b": invalid gRPC service name "a/b""#
        ),
        BadInvocation(name: "--monitor-url with an empty host", arguments: watch(("--monitor-url", "http:///health")), names: #"--monitor-url "http:///health": missing host"#),
        BadInvocation(name: "--monitor-url with a space in the path", arguments: watch(("--monitor-url", "http://127.0.0.1:9200/a b")), names: #"--monitor-url "http://127.0.0.1:9200/a b""#),
        BadInvocation(name: "--monitor-url with port 0", arguments: watch(("--monitor-url", "http://127.0.0.1:0/")), names: #"--monitor-url "http://127.0.0.1:0/": invalid port "0""#),
        BadInvocation(name: "--service-info an array", arguments: watch(("--service-info", "[]")), names: #"--service-info "[]": must be a JSON object"#),
        BadInvocation(name: "--service-info a string", arguments: watch(("--service-info", #""x""#)), names: #"--service-info "\"x\"": must be a JSON object"#),
        BadInvocation(name: "--service-info null", arguments: watch(("--service-info", "null")), names: #"--service-info "null": must be a JSON object"#),
        BadInvocation(name: "--service-info cut short", arguments: watch(("--service-info", "{")), names: #"--service-info "{": not valid JSON"#),
        BadInvocation(name: "--service-info with a trailing comma", arguments: watch(("--service-info", #"{"a": 1,}"#)), names: #"--service-info "{\"a\": 1,}": not valid JSON (a comma before } or ])"#),
        BadInvocation(
            name: "--service-info with a trailing comma in a nested array", arguments: watch(("--service-info", #"{"tags": ["a", "b",], "x": "],"}"#)),
            names: #"not valid JSON (a comma before } or ])"#
        ),
        // Beyond the JSON parser's nesting limit; the line shows the start of the value, not all 5 kB.
        BadInvocation(
            name: "--service-info nested 600 deep",
            arguments: watch(("--service-info", String(repeating: #"{"a":"#, count: 600) + "1" + String(repeating: "}", count: 600))),
            names: #"--service-info "{\"a\":{\"a\":"#
        ),
        BadInvocation(name: "--metrics-address without a port", arguments: watch(("--metrics-address", "9464")), names: #"--metrics-address "9464": use host:port"#),
        BadInvocation(name: "--metrics-address with port 0", arguments: watch(("--metrics-address", "127.0.0.1:0")), names: #"--metrics-address "127.0.0.1:0""#),
        BadInvocation(name: "--metrics-address with an empty host", arguments: watch(("--metrics-address", ":9464")), names: #"--metrics-address ":9464""#),
        BadInvocation(name: "--metrics-address IPv6 without brackets", arguments: watch(("--metrics-address", "::1:9464")), names: #"--metrics-address "::1:9464""#),
        // A well-formed address this host does not have (TEST-NET-1): the host's configuration, 78.
        BadInvocation(
            name: "--metrics-address not of this host", arguments: watch(("--metrics-address", "192.0.2.1:9464")), exitStatus: 78,
            names: "--metrics-address: cannot listen on 192.0.2.1:9464: not an address of this host"
        ),
        BadInvocation(name: "zero --interval", arguments: watch(("--interval", "0s")), names: #"--interval "0s": must be longer than zero"#),
        BadInvocation(name: "negative --interval", arguments: watch(("--interval=", "-1s")), names: #"--interval "-1s": not a duration"#),
        BadInvocation(name: "--interval in fortnights", arguments: watch(("--interval", "1fortnight")), names: #"--interval "1fortnight": not a duration"#),
        BadInvocation(name: "--interval over a year", arguments: watch(("--interval", "9000h")), names: #"--interval "9000h": not a duration"#),
        BadInvocation(
            name: "--timeout equal to --interval", arguments: watch(("--interval", "2s"), ("--timeout", "2s")),
            names: #"--timeout "2s" must be shorter than --interval "2s""#
        ),
        BadInvocation(name: "zero --timeout", arguments: watch(("--timeout", "0ms")), names: #"--timeout "0ms": must be longer than zero"#),
        BadInvocation(name: "zero --rise", arguments: watch(("--rise", "0")), names: "--rise 0: must be between 1 and 100"),
        BadInvocation(name: "--fall beyond 100", arguments: watch(("--fall", "101")), names: "--fall 101: must be between 1 and 100"),
        BadInvocation(name: "--fall not a number", arguments: watch(("--fall", "abc")), names: "'abc'"),
        BadInvocation(name: "--expect-status below 100", arguments: watch(("--expect-status", "99")), names: #"--expect-status "99": status 99 is outside 100-599"#),
        BadInvocation(name: "--expect-status 600", arguments: watch(("--expect-status", "600")), names: #"--expect-status "600": status 600 is outside 100-599"#),
        BadInvocation(name: "--expect-status not a number", arguments: watch(("--expect-status", "abc")), names: #"--expect-status "abc""#),
        BadInvocation(name: "--expect-status reversed range", arguments: watch(("--expect-status", "300-200")), names: #"--expect-status "300-200": range 300-200 is reversed"#),
        BadInvocation(name: "--http-header without a colon", arguments: watch(("--http-header", "X-Token")), names: #"--http-header "X-Token": not Name: value"#),
        BadInvocation(name: "--http-header with an empty name", arguments: watch(("--http-header", ": v")), names: #"--http-header ": v": the header name before the colon is empty"#),
        BadInvocation(name: "--http-header with a space in the name", arguments: watch(("--http-header", "X Token: v")), names: #"--http-header "X Token: v": the header name may hold only"#),
        BadInvocation(
            name: "--http-header with CR LF in the value", arguments: watch(("--http-header", "X-Token: a\r\nInjected: b")),
            names: #"--http-header "X-Token: a\r\nInjected: b": the value holds a CR, LF or NUL"#
        ),
        BadInvocation(name: "bogus --http-method", arguments: watch(("--http-method", "POST")), names: #"--http-method "POST": use GET or HEAD"#),
        BadInvocation(name: "--expect-body not a regex", arguments: watch(("--expect-body", "green(")), names: #"--expect-body "green(": not a valid regular expression"#),
        BadInvocation(
            name: "--expect-body with --http-method HEAD", arguments: watch(("--http-method", "HEAD"), ("--expect-body", "green")),
            names: #"--expect-body "green": a HEAD response has no body"#
        ),
        BadInvocation(
            name: "unreadable --check-cacert", arguments: watch(("--monitor-url", "https://127.0.0.1:9/"), ("--check-cacert", "/nonexistent/check-ca.pem")),
            exitStatus: 78, names: #"CA file "/nonexistent/check-ca.pem": cannot read"#
        ),
        BadInvocation(name: "zero --ttl", arguments: watch(("--ttl", "0s")), names: #"--ttl "0s": must be longer than zero"#),
        BadInvocation(name: "--ttl too short to renew", arguments: watch(("--ttl", "1s")), names: #"--ttl "1s": at least 2s"#),
        BadInvocation(name: "bogus --ready-when", arguments: watch(("--ready-when", "ready")), names: #"--ready-when "ready""#),
        BadInvocation(name: "watch without --monitor-url or --monitor-command", arguments: watch(without: "--monitor-url"), names: "--monitor-url missing: give --monitor-url or --monitor-command"),
        BadInvocation(name: "--monitor-command with an unterminated quote", arguments: watch(("--monitor-command", "sh -c 'test -e /x"), without: "--monitor-url"), names: #"--monitor-command "sh -c \'test -e /x": unterminated single quote"#),
        BadInvocation(name: "--monitor-command with an unterminated double quote", arguments: watch(("--monitor-command", #"echo "a"#), without: "--monitor-url"), names: #"--monitor-command "echo \"a": unterminated double quote"#),
        BadInvocation(name: "--expect-body with a tcp check", arguments: watch(("--monitor-url", "tcp://127.0.0.1:9300"), ("--expect-body", "ok")), names: "--expect-body applies to http://, https:// and command checks only"),
        BadInvocation(name: "--http-method with --monitor-command", arguments: watch(("--monitor-command", "true"), ("--http-method", "HEAD"), without: "--monitor-url"), names: "--http-method applies to http:// and https:// checks only"),
        BadInvocation(name: "--http-header with a tcp check", arguments: watch(("--monitor-url", "tcp://127.0.0.1:9300"), ("--http-header", "X-A: b")), names: "--http-header applies to http:// and https:// checks only"),
        BadInvocation(
            name: "--http-header with two tcp checks",
            arguments: watch(("--monitor-url", "tcp://127.0.0.1:9300"), ("--http-header", "X-A: b")) + ["--monitor-url", "tcp://127.0.0.1:9301"],
            names: "--http-header applies to http:// and https:// checks only"
        ),
        BadInvocation(
            name: "--check-cacert with a tcp and a command check",
            arguments: watch(("--monitor-url", "tcp://127.0.0.1:9300"), ("--monitor-command", "true"), ("--check-cacert", "/etc/ssl/certs/ca-certificates.crt")),
            names: "--check-cacert applies to https:// and grpcs:// checks only"
        ),
        BadInvocation(
            name: "--expect-body with two tcp checks",
            arguments: watch(("--monitor-url", "tcp://127.0.0.1:9300"), ("--expect-body", "ok")) + ["--monitor-url", "tcp://127.0.0.1:9301"],
            names: "--expect-body applies to http://, https:// and command checks only"
        ),
        BadInvocation(
            name: "a bad second --monitor-url",
            arguments: watch(("--monitor-command", "true")) + ["--monitor-url", "tcp://127.0.0.1"],
            names: #"--monitor-url "tcp://127.0.0.1": tcp:// needs a port"#
        ),
        BadInvocation(
            name: "a bad second --monitor-command",
            arguments: watch(("--monitor-command", "true")) + ["--monitor-command", "sh -c 'x"],
            names: #"--monitor-command "sh -c \'x": unterminated single quote"#
        ),
        BadInvocation(name: "--http-header with a grpc check", arguments: watch(("--monitor-url", "grpc://127.0.0.1:50051"), ("--http-header", "X-A: b")), names: "--http-header applies to http:// and https:// checks only"),
        BadInvocation(name: "--http-method with a grpcs check", arguments: watch(("--monitor-url", "grpcs://127.0.0.1:50051"), ("--http-method", "HEAD")), names: "--http-method applies to http:// and https:// checks only"),
        BadInvocation(name: "--expect-body with a grpc check", arguments: watch(("--monitor-url", "grpc://127.0.0.1:50051"), ("--expect-body", "ok")), names: "--expect-body applies to http://, https:// and command checks only"),
        BadInvocation(
            name: "--check-cacert with a plain http check", arguments: watch(("--monitor-url", "http://127.0.0.1:9200/"), ("--check-cacert", "/etc/ssl/certs/ca-certificates.crt")),
            names: "--check-cacert applies to https:// and grpcs:// checks only"
        ),
        BadInvocation(
            name: "--check-cacert with a plaintext grpc check", arguments: watch(("--monitor-url", "grpc://127.0.0.1:50051"), ("--check-cacert", "/etc/ssl/certs/ca-certificates.crt")),
            names: "--check-cacert applies to https:// and grpcs:// checks only"
        ),
        BadInvocation(
            name: "unreadable --check-cacert with a grpcs check", arguments: watch(("--monitor-url", "grpcs://127.0.0.1:9"), ("--check-cacert", "/nonexistent/check-ca.pem")),
            exitStatus: 78, names: #"CA file "/nonexistent/check-ca.pem": cannot read"#
        ),
        BadInvocation(name: "empty --monitor-command", arguments: watch(("--monitor-command", "  "), without: "--monitor-url"), names: #"--monitor-command "  ": empty command"#),
        // The unit's environment, not the command line: a configuration error, and no "see --help".
        BadInvocation(
            name: "WATCHDOG_USEC not a number", arguments: watch(), environment: ["WATCHDOG_USEC": "abc", "NOTIFY_SOCKET": "/tmp/x"],
            exitStatus: 78, names: #"WATCHDOG_USEC="abc" is not a watchdog setting"#, mustNotShow: "see --help"
        ),
    ]

    // MARK: Labels and service ids: nothing may reach outside <prefix>/<label>/

    static let names: [BadInvocation] = [
        BadInvocation(name: "label with a slash", arguments: watch(("--label", "a/b")), names: #"--label "a/b": only A-Z a-z 0-9 . _ - are allowed"#),
        BadInvocation(name: "label climbing out", arguments: ["hosts", "--label", "../x"], names: #"--label "../x""#),
        BadInvocation(name: "label ..", arguments: ["status", "--label", ".."], names: #"--label "..": . and .. are not allowed"#),
        BadInvocation(name: "label .", arguments: ["acquire-lease", "--label", ".", "--service-id", "w-1"], names: #"--label ".": . and .. are not allowed"#),
        BadInvocation(name: "label with a space", arguments: ["hosts", "--label", "a b"], names: #"--label "a b""#),
        BadInvocation(name: "label in unicode", arguments: ["acquire-lease", "--label", "ünïcode", "--service-id", "w-1"], names: #"--label "ünïcode""#),
        BadInvocation(name: "label with a newline", arguments: ["release-lease", "--label", "a\nb", "--service-id", "w-1"], names: #"--label "a\nb""#),
        BadInvocation(name: "label percent-encoding a slash", arguments: ["status", "--label", "a%2Fb"], names: #"--label "a%2Fb""#),
        BadInvocation(name: "empty label", arguments: ["acquire-lease", "--label", "", "--service-id", "w-1"], names: #"--label "": must not be empty"#),
        BadInvocation(
            name: "label of 129 characters", arguments: ["hosts", "--label", String(repeating: "L", count: 129)],
            names: #"--label "LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"…: longer than 128 characters"#
        ),
        // A valid name may start with -, but then it must be written --label=-x.
        BadInvocation(
            name: "label starting with - as a separate argument", arguments: ["status", "--label", "-x"],
            names: #"'--label <label>': "-x" is read as an option; if it is the value, write --label=-x"#
        ),
        BadInvocation(name: "service id with a slash", arguments: watch(("--service-id", "es/1")), names: #"--service-id "es/1""#),
        BadInvocation(name: "service id ..", arguments: ["acquire-lease", "--label", "web", "--service-id", ".."], names: #"--service-id "..": . and .. are not allowed"#),
        BadInvocation(name: "service id with a space", arguments: ["release-lease", "--label", "web", "--service-id", "x y"], names: #"--service-id "x y""#),
        BadInvocation(name: "service id in unicode", arguments: watch(("--service-id", "ës-1")), names: #"--service-id "ës-1""#),
        BadInvocation(name: "empty service id", arguments: ["release-lease", "--label", "web", "--service-id", ""], names: #"--service-id "": must not be empty"#),
        BadInvocation(
            name: "service id of 129 characters", arguments: ["acquire-lease", "--label", "web", "--service-id", String(repeating: "i", count: 129)],
            names: #"--service-id "iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii"…: longer than 128 characters"#
        ),
        BadInvocation(name: "service id with a tab", arguments: watch(("--service-id", "es\t1")), names: #"--service-id "es\t1""#),
    ]

    // MARK: hosts

    static let hostsOptions: [BadInvocation] = [
        BadInvocation(name: "--template with an unbalanced brace", arguments: ["hosts", "--label", "web", "--template", "{host"], names: #"--template "{host": unbalanced { }"#),
        BadInvocation(name: "--template with an empty placeholder", arguments: ["hosts", "--label", "web", "--template", "{}:9300"], names: #"--template "{}:9300": empty {} placeholder"#),
        BadInvocation(
            name: "--template with a key the instance lacks", arguments: ["hosts", "--label", seededLabel, "--template", "{host}:{http_port}"],
            names: #"--template "{host}:{http_port}": unknown key {http_port}"#
        ),
        BadInvocation(name: "bogus --format", arguments: ["hosts", "--label", "web", "--format", "yaml"], names: #"--format "yaml": use csv, lines or json"#),
        BadInvocation(name: "--port 0", arguments: ["hosts", "--label", "web", "--port", "0"], names: "--port 0: not a port number"),
        BadInvocation(name: "--port 70000", arguments: ["hosts", "--label", "web", "--port", "70000"], names: "--port 70000: not a port number"),
        BadInvocation(name: "--port and --template together", arguments: ["hosts", "--label", "web", "--port", "9300", "--template", "{host}"], names: "--port and --template cannot be combined"),
        BadInvocation(name: "--format json with --port", arguments: ["hosts", "--label", "web", "--format", "json", "--port", "9300"], names: "--format json prints whole records"),
        BadInvocation(name: "--min 0", arguments: ["hosts", "--label", "web", "--min", "0"], names: "--min 0: must be at least 1"),
        BadInvocation(
            name: "--min -1 as a separate argument", arguments: ["hosts", "--label", "web", "--min", "-1"],
            names: #"'--min <min>': "-1" is read as an option; if it is the value, write --min=-1"#
        ),
        BadInvocation(name: "--min=-1", arguments: ["hosts", "--label", "web", "--min=-1"], names: "--min -1: must be at least 1"),
        BadInvocation(name: "garbage --wait", arguments: ["hosts", "--label", "web", "--wait", "soon"], names: #"--wait "soon": not a duration"#),
        BadInvocation(name: "zero --wait", arguments: ["hosts", "--label", "web", "--wait", "0s"], names: #"--wait "0s": must be longer than zero"#),
        BadInvocation(name: "--watch with --min", arguments: ["hosts", "--label", "web", "--watch", "--min", "2"], names: "--watch cannot be combined with --min or --wait"),
    ]

    // MARK: acquire-lease and release-lease

    static let leaseOptions: [BadInvocation] = [
        BadInvocation(name: "--slots 0", arguments: acquire("--slots", "0"), names: "--slots 0: must be between 1 and 1000"),
        BadInvocation(name: "--slots=-1", arguments: acquire("--slots=-1"), names: "--slots -1: must be between 1 and 1000"),
        BadInvocation(name: "--slots 1001", arguments: acquire("--slots", "1001"), names: "--slots 1001: must be between 1 and 1000"),
        BadInvocation(name: "--slots not a number", arguments: acquire("--slots", "two"), names: "'two'"),
        BadInvocation(name: "zero --lease-timeout", arguments: acquire("--lease-timeout", "0s"), names: #"--lease-timeout "0s": must be longer than zero"#),
        BadInvocation(name: "zero --acquire-timeout", arguments: acquire("--acquire-timeout", "0ms"), names: #"--acquire-timeout "0ms": must be longer than zero"#),
        BadInvocation(name: "garbage --acquire-timeout", arguments: acquire("--acquire-timeout", "2y"), names: #"--acquire-timeout "2y": not a duration"#),
        BadInvocation(name: "acquire-lease with a bad --host-ip", arguments: acquire("--host-ip", "300.1.1.1"), names: #"--host-ip "300.1.1.1""#),
        BadInvocation(name: "release-lease without --service-id", arguments: ["release-lease", "--label", "web"], names: "'--service-id <service-id>'"),
    ]

    // MARK: Building invocations

    /// A valid `watch` except for `changes`, which replace its options or add to them; an option
    /// written `--name=` is passed as one argument `--name=value`.
    // MARK: run: its own options and the command after --

    static let runOptions: [BadInvocation] = [
        BadInvocation(name: "run without --", arguments: run(command: []) + ["/bin/true"], names: "'/bin/true'"),
        BadInvocation(name: "run with nothing after --", arguments: run(command: ["--"]), names: "COMMAND missing: give the command to run after --"),
        BadInvocation(name: "run with an empty command", arguments: run(command: ["--", ""]), names: "COMMAND missing"),
        BadInvocation(
            name: "run with a command not on PATH", arguments: run(command: ["--", "no-such-service-xyz", "-v"]),
            names: #"COMMAND "no-such-service-xyz": no executable of that name on PATH"#
        ),
        BadInvocation(
            name: "run with a command path that is not executable", arguments: run(command: ["--", "/etc/passwd"]),
            names: #"COMMAND "/etc/passwd": not an executable file"#
        ),
        BadInvocation(
            name: "run with {hosts} and --format json", arguments: run("--format", "json", command: ["--", "/bin/echo", "--peers={hosts}"]),
            names: "--format json cannot fill {hosts}"
        ),
        BadInvocation(name: "run with a bogus --format", arguments: run("--format", "yaml"), names: #"--format "yaml": use csv, lines or json"#),
        BadInvocation(name: "run with --port and --template", arguments: run("--port", "9300", "--template", "{host}"), names: "--port and --template cannot be combined"),
        BadInvocation(name: "run with zero --stop-timeout", arguments: run("--stop-timeout", "0s"), names: #"--stop-timeout "0s": must be longer than zero"#),
        BadInvocation(name: "run with --slots 0", arguments: run("--slots", "0"), names: "--slots 0: must be between 1 and 1000"),
        BadInvocation(name: "run without a check", arguments: ["run", "--label", "bad-input", "--service-id", "w-1", "--host-ip", "127.0.0.1", "--", "/bin/true"], names: "--monitor-url missing"),
        BadInvocation(name: "run with a watch-only option", arguments: run("--ready-when", "started"), names: "'--ready-when'"),
        BadInvocation(name: "run with a bad --metrics-address", arguments: run("--metrics-address", "localhost:http"), names: #"--metrics-address "localhost:http""#),
    ]

    /// A valid `run` with `extra` options, then `command` (by default `-- /bin/true {hosts}`).
    static func run(_ extra: String..., command: [String] = ["--", "/bin/true", "{hosts}"]) -> [String] {
        ["run", "--label", "bad-input", "--service-id", "w-1", "--monitor-url", "http://127.0.0.1:9/", "--host-ip", "127.0.0.1"] + extra + command
    }

    static func watch(_ changes: (String, String)..., without removed: String? = nil) -> [String] {
        var options: [(String, String)] = [
            ("--label", "bad-input"), ("--service-id", "w-1"), ("--monitor-url", "http://127.0.0.1:9/"), ("--host-ip", "127.0.0.1"),
        ]
        options.removeAll { $0.0 == removed }
        for (option, value) in changes {
            let name = option.hasSuffix("=") ? String(option.dropLast()) : option
            if let index = options.firstIndex(where: { $0.0 == name || $0.0 == name + "=" }) {
                options[index] = (option, value)
            } else {
                options.append((option, value))
            }
        }
        return ["watch"] + options.flatMap { $0.0.hasSuffix("=") ? [$0.0 + $0.1] : [$0.0, $0.1] }
    }

    /// A valid `acquire-lease` followed by `extra`.
    static func acquire(_ extra: String...) -> [String] {
        ["acquire-lease", "--label", "bad-input", "--service-id", "w-1", "--acquire-timeout", "5s"] + extra
    }

    // MARK: Tests

    @Test(arguments: cases)
    func exitsWithTheDocumentedStatusAndOneLineNamingTheValue(_ invocation: BadInvocation) async throws {
        let store = try #require(SharedEtcd.current, "the suite's etcd")
        let revision = try await store.client.currentRevision()

        var arguments = invocation.arguments
        if invocation.targetsTheSuiteEtcd {
            arguments.insert(contentsOf: ["--endpoints", store.cluster.clientURLs[0]], at: 1)
        }
        let result = try await Command.run(
            try BuildProducts.executable(named: "service-monitor"), arguments,
            environment: Self.cleanEnvironment.merging(invocation.environment.mapValues { $0 }) { $1 },
            timeout: .seconds(20)
        )

        #expect(result.status == invocation.exitStatus, "\(result)")
        #expect(result.standardOutput.isEmpty, "\(result)")
        // Exactly one line: no usage dump, nothing after it.
        let lines = result.standardError.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty && lines[0].hasPrefix("service-monitor: "), "not one line: \(result)")
        #expect(lines[0].contains(invocation.names), "does not name \(invocation.names): \(result)")
        #expect(lines[0].count <= 300, "an unreadably long line: \(result)")
        if let secret = invocation.mustNotShow {
            #expect(!result.standardError.contains(secret), "shows \(secret): \(result)")
        }
        // Nothing written and no lease granted.
        #expect(try await store.client.currentRevision() == revision, "etcd revision moved: \(result)")
        #expect(try await store.cluster.etcdctl(["lease", "list"]).hasPrefix("found 0 leases"), "a lease was granted: \(result)")
    }

    @Test func theTableCoversEveryCommandAndBothStatusesWithDistinctCases() {
        #expect(Self.cases.count >= 40)
        #expect(Set(Self.cases.map(\.name)).count == Self.cases.count, "case names repeat")
        #expect(Set(Self.cases.map { [$0.environment.description] + $0.arguments }).count == Self.cases.count, "invocations repeat")
        let commands = Set(Self.cases.compactMap(\.arguments.first))
        #expect(commands.isSuperset(of: ["watch", "hosts", "status", "acquire-lease", "release-lease", "run"]))
        #expect(Set(Self.cases.map(\.exitStatus)) == [64, 78])
    }

    /// The test process's environment without what would change the command's settings (a CI
    /// job may set ETCDCTL_ENDPOINTS) or its log target.
    static var cleanEnvironment: [String: String?] {
        var environment: [String: String?] = ["JOURNAL_STREAM": nil, "NOTIFY_SOCKET": nil, "COREOS_PRIVATE_IPV4": nil]
        for name in ProcessInfo.processInfo.environment.keys where name.hasPrefix("ETCDCTL_") || name.hasPrefix("SERVICE_MONITOR_") || name.hasPrefix("AWS_") {
            environment[name] = .some(nil)
        }
        return environment
    }
}

/// One etcd member for the whole suite (80-odd short process runs need no fresh store each),
/// with one instance up under ``BadInputTests/seededLabel``.
struct SharedEtcd: SuiteTrait, TestScoping {
    struct Store: Sendable {
        let cluster: EtcdCluster
        let client: EtcdClient
    }

    @TaskLocal static var current: Store?

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                // Written directly, without a lease, as a watcher would have: only hosts reads it.
                let record = #"{"detail":"HTTP 200 in 1 ms","host":"127.0.0.1","info":{"transport_port":9300},"service_id":"es-1","since":"2026-11-28T12:00:00.000Z","state":"up"}"#
                _ = try await client.put("/service-monitor/\(BadInputTests.seededLabel)/instances/es-1", value: Array(record.utf8))
                try await Self.$current.withValue(Store(cluster: cluster, client: client)) {
                    try await function()
                }
            }
        }
    }
}
