import Posix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The address this host publishes for its instances (`--host-ip`).
public enum HostAddress {
    /// `--host-ip`, else `COREOS_PRIVATE_IPV4` (as CoreOS machines set it for fleet units), else the
    /// IPv4 address of the interface holding the default route.
    public static func resolve(flag: String?, environment: [String: String]) throws(BadInput) -> String {
        if let flag {
            return try validated(flag, option: "--host-ip")
        }
        if let coreos = environment["COREOS_PRIVATE_IPV4"], !coreos.isEmpty {
            return try validated(coreos, option: "COREOS_PRIVATE_IPV4")
        }
        guard let address = defaultRouteAddress() else {
            throw BadInput(
                option: "--host-ip",
                message: "not given and no default route to take it from: pass --host-ip or set COREOS_PRIVATE_IPV4"
            )
        }
        return address
    }

    /// `host` as it is written before `:port`: an IPv6 literal in brackets (`[::1]`, RFC 3986),
    /// an IPv4 address as it is.
    public static func beforePort(_ host: String) -> String {
        host.contains(":") ? "[\(host)]" : host
    }

    /// An IPv4 or IPv6 literal (what other instances will connect to); names are refused so the
    /// published address never depends on a resolver.
    static func validated(_ value: String, option: String) throws(BadInput) -> String {
        guard isIPv4(value) || isIPv6(value) else {
            throw BadInput(option: option, message: "\(value.quotedForError): not an IPv4 or IPv6 address")
        }
        return value
    }

    /// Whether `value` is an IPv4 literal (`10.0.0.5`).
    static func isIPv4(_ value: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, value, &address) == 1
    }

    /// Whether `value` is an IPv6 literal without brackets (`::1`).
    static func isIPv6(_ value: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, value, &address) == 1
    }

    /// The interface of the first default route in `/proc/net/route`, and its IPv4 address.
    static func defaultRouteAddress() -> String? {
        guard let routes = try? File.text(atPath: "/proc/net/route") else { return nil }
        // Iface  Destination  Gateway  Flags …; the default route has destination 00000000.
        for line in routes.split(separator: "\n").dropFirst() {
            let columns = line.split(whereSeparator: { $0 == "\t" || $0 == " " })
            guard columns.count > 3, columns[1] == "00000000" else { continue }
            let flags = Int(columns[3], radix: 16) ?? 0
            let routeIsUp = flags & 0x1 != 0
            if routeIsUp { return ipv4Address(of: String(columns[0])) }
        }
        return nil
    }

    private static func ipv4Address(of interface: String) -> String? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        for entry in sequence(first: first, next: { $0.pointee.ifa_next }) {
            guard let address = entry.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET),
                  String(cString: entry.pointee.ifa_name) == interface else { continue }
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            let converted = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ipv4 in
                var raw = ipv4.pointee.sin_addr
                return inet_ntop(AF_INET, &raw, &text, socklen_t(text.count)) != nil
            }
            if converted { return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        }
        return nil
    }
}
