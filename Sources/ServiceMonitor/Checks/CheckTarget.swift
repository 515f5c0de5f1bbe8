/// What a health check probes, parsed from `--monitor-url`:
/// `http://host[:port][/path][?query]`, `https://…`, or `tcp://host:port`.
///
/// Parsing is strict and done by hand rather than through Foundation's `URL`, which silently
/// percent-encodes stray characters: a typo in a unit file should be reported, not probed.
public struct CheckTarget: Sendable, Hashable, CustomStringConvertible {
    /// How the target is checked.
    public enum Kind: String, Sendable, Hashable {
        /// GET over plain HTTP/1.1; up when the status is expected.
        case http
        /// GET over HTTP/1.1 in TLS; up when the certificate verifies and the status is expected.
        case https
        /// TCP connect; up when the connection is accepted.
        case tcp
    }

    /// How the target is checked.
    public var kind: Kind
    /// Host name or IP address (IPv6 without brackets), lowercased.
    public var host: String
    /// Port: explicit, or 80/443 for http/https.
    public var port: Int
    /// Path and query sent in the request line (`/` when the URL has none); empty for tcp.
    public var pathAndQuery: String

    public init(kind: Kind, host: String, port: Int, pathAndQuery: String = "/") {
        self.kind = kind
        self.host = host
        self.port = port
        self.pathAndQuery = kind == .tcp ? "" : pathAndQuery
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

    public var description: String { self.url }
}
