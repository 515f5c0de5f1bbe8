/// A parsed endpoint URL: `http(s)://host:port`, IPv6 hosts in brackets.
struct EndpointAddress: Hashable, Sendable {
    enum HostKind: Hashable, Sendable { case ipv4, ipv6, name }

    var url: String
    var usesTLS: Bool
    var host: String
    var hostKind: HostKind
    var port: Int

    init(parsing url: String) throws(EtcdError) {
        func invalid(_ why: String) -> EtcdError {
            EtcdError(code: .invalidConfiguration, message: "invalid endpoint '\(url)': \(why)")
        }
        var rest = Substring(url)
        if rest.hasPrefix("http://") {
            self.usesTLS = false
            rest = rest.dropFirst("http://".count)
        } else if rest.hasPrefix("https://") {
            self.usesTLS = true
            rest = rest.dropFirst("https://".count)
        } else {
            throw invalid("expected http://host:port or https://host:port")
        }
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else { throw invalid("paths are not supported") }
            rest = rest[..<slash]
        }

        let hostPart: Substring
        let portPart: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw invalid("unclosed '['") }
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let afterClose = rest[rest.index(after: close)...]
            if afterClose.isEmpty {
                portPart = nil
            } else if afterClose.hasPrefix(":") {
                portPart = afterClose.dropFirst()
            } else {
                throw invalid("unexpected text after ']'")
            }
            self.hostKind = .ipv6
        } else {
            let pieces = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw invalid("IPv6 addresses must be in brackets") }
            hostPart = pieces[0]
            portPart = pieces.count == 2 ? pieces[1] : nil
            self.hostKind = Self.isIPv4(hostPart) ? .ipv4 : .name
        }
        guard !hostPart.isEmpty else { throw invalid("missing host") }
        if let portPart {
            guard let port = Int(portPart), (1...65535).contains(port) else { throw invalid("bad port '\(portPart)'") }
            self.port = port
        } else {
            self.port = 2379
        }
        self.host = String(hostPart)
        self.url = url
    }

    private static func isIPv4(_ text: Substring) -> Bool {
        let octets = text.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets.allSatisfy { UInt8($0) != nil }
    }
}
