/// Splits a `--monitor-url` value into scheme, host, port and path, rejecting anything a health
/// check could only misinterpret. One ``BadInput`` per problem, each naming the value.
struct CheckTargetParser {
    private let input: String
    private static let option = "--monitor-url"
    private static let example = "e.g. http://127.0.0.1:9200/_cluster/health or tcp://127.0.0.1:5432"

    init(_ input: String) {
        self.input = input
    }

    func parse() throws(BadInput) -> CheckTarget {
        guard !self.input.isEmpty else {
            throw self.error(.malformedURL, "empty URL (\(Self.example))")
        }
        if let bad = self.input.unicodeScalars.first(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            let what = bad.properties.isWhitespace ? "whitespace" : "a control character"
            throw self.error(.whitespaceInURL, "contains \(what) \(String(bad).debugDescription) (quote the value, or percent-encode it in the path)")
        }
        guard let separator = self.input.firstRange(ofBytes: "://") else {
            throw self.error(.malformedURL, "not a URL, expected scheme://host[:port][/path] (\(Self.example))")
        }
        let kind = try self.parseScheme(String(self.input[..<separator.lowerBound]))
        let rest = self.input[separator.upperBound...]

        // The authority ends at the first '/', '?' or '#'; the fragment is never sent.
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = String(rest[..<authorityEnd])
        var pathAndQuery = String(rest[authorityEnd...])
        if let hash = pathAndQuery.firstIndex(of: "#") { pathAndQuery = String(pathAndQuery[..<hash]) }

        if authority.contains("@") {
            throw self.error(.malformedURL, "credentials in the URL are not supported")
        }
        let (host, portText) = try self.splitHostAndPort(authority)
        let port = try self.parsePort(portText, kind: kind)

        switch kind {
        case .tcp:
            guard pathAndQuery.isEmpty || pathAndQuery == "/" else {
                throw self.error(.malformedURL, "tcp:// takes no path or query, found \(pathAndQuery.debugDescription)")
            }
            return CheckTarget(kind: .tcp, host: host, port: port)
        case .grpc, .grpcs:
            return CheckTarget(kind: kind, host: host, port: port, pathAndQuery: try self.validateGRPCService(pathAndQuery))
        case .command:
            throw self.error(.unsupportedScheme, "not a URL scheme")
        case .http, .https:
            try self.validatePathAndQuery(pathAndQuery)
            if pathAndQuery.isEmpty { pathAndQuery = "/" }
            if pathAndQuery.hasPrefix("?") { pathAndQuery = "/" + pathAndQuery }
            return CheckTarget(kind: kind, host: host, port: port, pathAndQuery: pathAndQuery)
        }
    }

    private func parseScheme(_ scheme: String) throws(BadInput) -> CheckTarget.Kind {
        let isSchemeSyntax = scheme.first?.isASCIILetter == true
            && scheme.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "+" || $0 == "-" || $0 == "." }
        guard isSchemeSyntax else {
            throw self.error(.malformedURL, "\(scheme.debugDescription) is not a URL scheme (\(Self.example))")
        }
        guard let kind = CheckTarget.Kind(rawValue: scheme.lowercased()), kind != .command else {
            throw self.error(.unsupportedScheme, "unsupported scheme \(scheme.debugDescription) (use http, https, tcp, grpc or grpcs)")
        }
        return kind
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`; returns the host (lowercased, unbracketed) and
    /// the port text if a ':' was present.
    private func splitHostAndPort(_ authority: String) throws(BadInput) -> (String, Substring?) {
        var host: Substring
        var portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw self.error(.malformedURL, "unterminated IPv6 address (missing ']')")
            }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let afterBracket = authority[authority.index(after: close)...]
            if let colon = afterBracket.first {
                guard colon == ":" else {
                    throw self.error(.malformedURL, "unexpected \(String(afterBracket).debugDescription) after the IPv6 address")
                }
                portText = afterBracket.dropFirst()
            }
            guard !host.isEmpty else { throw self.error(.missingHost, "missing host") }
            guard host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else {
                throw self.error(.malformedURL, "invalid IPv6 address \(String(host).debugDescription)")
            }
        } else {
            let colons = authority.filter { $0 == ":" }.count
            guard colons <= 1 else {
                throw self.error(.malformedURL, "too many ':' in the host (put IPv6 addresses in brackets, e.g. http://[::1]:8080/)")
            }
            if let colon = authority.firstIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            } else {
                host = authority[...]
            }
            guard !host.isEmpty else { throw self.error(.missingHost, "missing host") }
            let isHostName = host.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "-" || $0 == "." || $0 == "_" }
            guard isHostName else {
                throw self.error(.malformedURL, "invalid host \(String(host).debugDescription)")
            }
        }
        return (host.lowercased(), portText)
    }

    private func parsePort(_ text: Substring?, kind: CheckTarget.Kind) throws(BadInput) -> Int {
        guard let text else {
            switch kind {
            case .http: return 80
            case .https: return 443
            case .tcp, .command: throw self.error(.invalidPort, "tcp:// needs a port, e.g. tcp://127.0.0.1:5432")
            // gRPC has no well-known port.
            case .grpc, .grpcs: throw self.error(.invalidPort, "\(kind.rawValue):// needs a port, e.g. \(kind.rawValue)://127.0.0.1:50051")
            }
        }
        guard !text.isEmpty else { throw self.error(.invalidPort, "empty port after ':'") }
        guard text.allSatisfy(\.isASCIIDigit), let port = Int(text), (1...65535).contains(port) else {
            throw self.error(.invalidPort, "invalid port \(String(text).debugDescription) (expected 1-65535)")
        }
        return port
    }

    /// The path of a grpc(s) URL names the health service, or is empty (`/` alone too). A name is
    /// letters, digits, '.', '_' and '-', as in protobuf's dotted service names; another '/', a
    /// query or a percent-escape could only be a mistake.
    private func validateGRPCService(_ pathAndQuery: String) throws(BadInput) -> String {
        if pathAndQuery.contains("?") {
            throw self.error(.malformedURL, "gRPC URLs take no query, found \(pathAndQuery.debugDescription)")
        }
        let service = pathAndQuery.dropFirst()
        let isServiceName = service.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "." || $0 == "_" || $0 == "-" }
        guard isServiceName, service.first != ".", service.last != "." else {
            throw self.error(
                .malformedURL,
                "invalid gRPC service name \(String(service).debugDescription) (letters, digits, '.', '_' and '-', e.g. grpc://127.0.0.1:50051/my.package.Service)"
            )
        }
        return pathAndQuery
    }

    /// RFC 3986 path/query characters, with '%' only as a valid percent-escape.
    private func validatePathAndQuery(_ text: String) throws(BadInput) {
        let allowedPunctuation = Set("/?-._~!$&'()*+,;=:@")
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "%" {
                let escape = text[index...].dropFirst().prefix(2)
                guard escape.count == 2, escape.allSatisfy(\.isHexDigit) else {
                    throw self.error(.malformedURL, "invalid percent-escape in the path")
                }
                index = text.index(index, offsetBy: 3)
                continue
            }
            guard character.isASCIILetter || character.isASCIIDigit || allowedPunctuation.contains(character) else {
                throw self.error(.malformedURL, "invalid character \(String(character).debugDescription) in the path (percent-encode it)")
            }
            index = text.index(after: index)
        }
    }

    private func error(_ code: BadInput.Code, _ reason: String) -> BadInput {
        .badValue(code, option: Self.option, value: self.input, reason)
    }
}

extension Character {
    fileprivate var isASCIILetter: Bool { self.isASCII && self.isLetter }
    fileprivate var isASCIIDigit: Bool { self.isASCII && self.isWholeNumber }
}
