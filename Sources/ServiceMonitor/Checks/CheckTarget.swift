/// What a health check probes, parsed from `--monitor-url`:
/// `http://host[:port][/path][?query]`, `https://…`, `tcp://host:port`, or
/// `grpc://host:port[/service]` and `grpcs://…`.
///
/// Parsing is strict and done by hand rather than through Foundation's `URL`, which silently
/// percent-encodes stray characters: a typo in a unit file should be reported, not probed.
public struct CheckTarget: Sendable, Hashable, CustomStringConvertible {
    /// How the target is checked.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// GET over plain HTTP/1.1; up when the status is expected.
        case http
        /// GET over HTTP/1.1 in TLS; up when the certificate verifies and the status is expected.
        case https
        /// TCP connect; up when the connection is accepted.
        case tcp
        /// `grpc.health.v1.Health/Check` over plaintext HTTP/2; up when it answers SERVING.
        case grpc
        /// `grpc.health.v1.Health/Check` in TLS; up when the certificate verifies and it answers
        /// SERVING.
        case grpcs
        /// `--monitor-command`: runs ``CheckTarget/command``; up when it exits 0 in time.
        case command
    }

    /// How the target is checked.
    public var kind: Kind
    /// Host name or IP address (IPv6 without brackets), lowercased.
    public var host: String
    /// Port: explicit, or 80/443 for http/https.
    public var port: Int
    /// Path and query sent in the request line (`/` when the URL has none); empty for tcp;
    /// `/service` or empty for grpc(s).
    public var pathAndQuery: String

    /// The program and its arguments of a ``Kind/command`` target; empty for the others.
    public var command: [String] = []

    public init(kind: Kind, host: String, port: Int, pathAndQuery: String = "/") {
        self.kind = kind
        self.host = host
        self.port = port
        switch kind {
        case .tcp: self.pathAndQuery = ""
        case .grpc, .grpcs: self.pathAndQuery = pathAndQuery == "/" ? "" : pathAndQuery
        case .http, .https, .command: self.pathAndQuery = pathAndQuery
        }
    }

    /// The service name a grpc(s) check asks `grpc.health.v1.Health/Check` about: the path
    /// without its leading `/`, empty for the server as a whole.
    public var grpcService: String {
        String(self.pathAndQuery.dropFirst(self.pathAndQuery.hasPrefix("/") ? 1 : 0))
    }

    /// A command target: `words` are the program (a name looked up in PATH, or a path) and its
    /// arguments, as ``CommandWords/split(_:)`` gives them. No host, port or path.
    public init(command words: [String]) {
        self.kind = .command
        self.host = ""
        self.port = 0
        self.pathAndQuery = ""
        self.command = words
    }

    /// Parses a `--monitor-command` value; the error message names the value and what is wrong.
    public init(parsingCommand value: String) throws(BadInput) {
        self.init(command: try CommandWords.split(value))
    }

    /// Parses a `--monitor-url` value; the error message names the value and what is wrong.
    public init(parsing url: String) throws(BadInput) {
        self = try CheckTargetParser(url).parse()
    }

    /// The host as it appears in a URL: IPv6 addresses in brackets.
    public var hostForURL: String {
        HostAddress.beforePort(self.host)
    }

    /// The normalized URL (explicit port, lowercased scheme and host, no fragment).
    public var url: String {
        "\(self.kind.rawValue)://\(self.hostForURL):\(self.port)\(self.pathAndQuery)"
    }

    public var description: String {
        self.kind == .command ? self.command.joined(separator: " ") : self.url
    }
}
