public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A small network of hosts for partition tests: each host a network namespace with one address
/// in a private /24, all on one bridge that lives in a namespace of its own. The test process
/// joins as the observer (`.254`, through one veth pair into the bridge), so its own etcd client
/// and `etcdctl` reach every host; nothing in a host has a route beyond the /24.
///
/// Faults are silent, as on a real network: ``cut(_:from:)`` drops packets with nftables rules
/// inside a host's namespace, both directions, so peers see no reset and no error — only
/// silence — until ``heal(_:)``.
///
/// ```swift
/// try await TestNetwork.with(hosts: 4) { network in
///     let watcher = network.hosts[3]
///     let process = try network.start(in: watcher, "/path/to/service-monitor", ["watch", …])
///     try await network.cut(watcher, from: Array(network.hosts[0..<3]))
/// }
/// ```
///
/// Names carry this process's id (`smnet-<pid>-<n>-…`): a run that crashed leaves namespaces
/// the next run removes (see ``removeStale()``). Needs root, iproute2 and nftables.
public final class TestNetwork: @unchecked Sendable {
    /// One host: a network namespace with one address.
    public struct Host: Sendable, Hashable, CustomStringConvertible {
        public let namespace: String
        public let address: String
        public var description: String { "\(namespace) (\(address))" }
    }

    /// At most this many hosts per network (addresses .1 up to it; .254 is the observer).
    public static let maximumHosts = 8

    public let hosts: [Host]
    /// The address of this test process on the network.
    public let observerAddress: String
    /// `10.a.b.0/24`.
    public let subnet: String
    private let bridgeNamespace: String
    private let lock = NSLock()
    private var processes: [ChildProcess] = []

    /// Builds a network of `count` hosts, runs `body`, then kills every process started in it and
    /// removes every namespace — also when `body` throws.
    public static func with<Result>(hosts count: Int, _ body: (TestNetwork) async throws -> Result) async throws -> Result {
        precondition((1...maximumHosts).contains(count), "1 to \(maximumHosts) hosts")
        try await removeStaleOnce()
        let network = try await create(hosts: count)
        do {
            let result = try await body(network)
            await network.remove()
            return result
        } catch {
            await network.remove()
            throw error
        }
    }

    private init(hosts: [Host], observerAddress: String, subnet: String, bridgeNamespace: String) {
        self.hosts = hosts
        self.observerAddress = observerAddress
        self.subnet = subnet
        self.bridgeNamespace = bridgeNamespace
    }

    // MARK: - Processes in a host

    /// Starts `executable` inside `host` (`ip netns exec`, which execs in place: the process is
    /// the program itself, and signals reach it). It is killed when the network is removed.
    public func start(
        in host: Host,
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String?] = [:],
        standardOutput: FileHandle? = nil,
        standardError: FileHandle? = nil
    ) throws -> ChildProcess {
        let process = try Command.start(
            Self.ip, ["netns", "exec", host.namespace, try Command.resolve(executable)] + arguments,
            environment: environment, standardOutput: standardOutput, standardError: standardError
        )
        lock.withLock { processes.append(process) }
        return process
    }

    /// Runs `executable` inside `host` to completion (as ``Command/run(_:_:environment:standardInput:timeout:)``).
    public func run(
        in host: Host, _ executable: String, _ arguments: [String] = [], environment: [String: String?] = [:],
        timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        try await Command.run(
            Self.ip, ["netns", "exec", host.namespace, try Command.resolve(executable)] + arguments,
            environment: environment, timeout: timeout
        )
    }

    // MARK: - Faults

    /// Silently drops every packet between `host` and `peers` (the observer's address may be
    /// among them), both directions, replacing any cut `host` had before. Established TCP
    /// connections see nothing but silence.
    public func cut(_ host: Host, from peers: [String]) async throws {
        precondition(!peers.isEmpty)
        let set = "{ " + peers.joined(separator: ", ") + " }"
        // Created, emptied and refilled in one atomic transaction.
        try await nft(in: host, """
            table inet partition {}
            delete table inet partition
            table inet partition {
                chain input {
                    type filter hook input priority 0; policy accept;
                    ip saddr \(set) drop
                }
                chain output {
                    type filter hook output priority 0; policy accept;
                    ip daddr \(set) drop
                }
            }

            """)
    }

    /// ``cut(_:from:)`` given hosts.
    public func cut(_ host: Host, from peers: [Host]) async throws {
        try await cut(host, from: peers.map(\.address))
    }

    /// Removes `host`'s cut: packets flow again.
    public func heal(_ host: Host) async throws {
        try await nft(in: host, "table inet partition {}\ndelete table inet partition\n")
    }

    private func nft(in host: Host, _ rules: String) async throws {
        let result = try await Command.run(
            Self.ip, ["netns", "exec", host.namespace, Self.nftPath, "-f", "-"], standardInput: rules, timeout: .seconds(20)
        )
        guard result.status == 0 else {
            throw CommandError(description: "nft in \(host) failed (is nftables installed? ./dev installs it): \(result.standardError)")
        }
    }

    // MARK: - Creation and removal

    private static let ip = "/usr/sbin/ip"
    private static let nftPath = "/usr/sbin/nft"
    private static let namePrefix = "smnet-"
    private static let sequence = Mutex(0)

    private static func create(hosts count: Int) async throws -> TestNetwork {
        guard FileManager.default.isExecutableFile(atPath: nftPath) else {
            throw CommandError(description: "\(nftPath) is missing: ./dev test installs nftables")
        }
        let number = sequence.withLock { value -> Int in
            value += 1
            return value
        }
        let pid = getpid()
        let base = "\(namePrefix)\(pid)-\(number)"
        let subnet = try await freeSubnet()
        let network = TestNetwork(
            hosts: (1...count).map { Host(namespace: "\(base)-h\($0)", address: "\(subnet).\($0)") },
            observerAddress: "\(subnet).254", subnet: "\(subnet).0/24", bridgeNamespace: "\(base)-br"
        )
        do {
            try await network.build(observerInterface: String(format: "sm%x-%x", pid, number))
        } catch {
            await network.remove()
            throw error
        }
        return network
    }

    private func build(observerInterface: String) async throws {
        let bridge = bridgeNamespace
        var steps: [[String]] = [
            ["netns", "add", bridge],
            ["-n", bridge, "link", "add", "br0", "type", "bridge"],
            ["-n", bridge, "link", "set", "br0", "up"],
        ]
        for (index, host) in hosts.enumerated() {
            steps += [
                ["netns", "add", host.namespace],
                ["link", "add", "eth0", "netns", host.namespace, "type", "veth", "peer", "name", "h\(index + 1)", "netns", bridge],
                ["-n", bridge, "link", "set", "h\(index + 1)", "master", "br0", "up"],
                ["-n", host.namespace, "addr", "add", "\(host.address)/24", "dev", "eth0"],
                ["-n", host.namespace, "link", "set", "eth0", "up"],
                ["-n", host.namespace, "link", "set", "lo", "up"],
            ]
        }
        // The observer: this process's namespace, one veth whose peer is on the bridge. Removing
        // the bridge namespace removes both ends, and the route with them.
        steps += [
            ["link", "add", observerInterface, "type", "veth", "peer", "name", "observer", "netns", bridge],
            ["-n", bridge, "link", "set", "observer", "master", "br0", "up"],
            ["addr", "add", "\(observerAddress)/24", "dev", observerInterface],
            ["link", "set", observerInterface, "up"],
        ]
        for step in steps { try await Self.ipCommand(step) }
    }

    /// Kills what was started in the hosts (and anything else found in them), then deletes
    /// every namespace. Safe to call twice.
    private func remove() async {
        let started = lock.withLock { () -> [ChildProcess] in
            defer { processes = [] }
            return processes
        }
        for process in started { await process.kill() }
        for namespace in hosts.map(\.namespace) + [bridgeNamespace] {
            await Self.delete(namespace: namespace)
        }
    }

    private static func delete(namespace: String) async {
        // A process left inside would keep the namespace (and its addresses) alive.
        if let pids = try? await Command.output(ip, ["netns", "pids", namespace], timeout: .seconds(20)) {
            for pid in pids.split(separator: "\n").compactMap({ pid_t($0) }) { _ = Glibc.kill(pid, SIGKILL) }
        }
        _ = try? await Command.run(ip, ["netns", "delete", namespace], timeout: .seconds(20))
    }

    /// A /24 in 10.100–249.x that no route of this namespace touches and no other network of
    /// this process holds.
    private static let subnetsHandedOut = Mutex<Set<String>>([])

    private static func freeSubnet() async throws -> String {
        let routes = try await Command.output(ip, ["-4", "route", "show", "table", "all"], timeout: .seconds(20))
        for _ in 0..<200 {
            let candidate = "10.\(Int.random(in: 100..<250)).\(Int.random(in: 0..<256))"
            guard !routes.contains(candidate + ".") else { continue }
            if subnetsHandedOut.withLock({ $0.insert(candidate).inserted }) { return candidate }
        }
        throw CommandError(description: "no free 10.x.y.0/24 for a test network")
    }

    private static func ipCommand(_ arguments: [String]) async throws {
        let result = try await Command.run(ip, arguments, timeout: .seconds(20))
        guard result.status == 0 else {
            throw CommandError(description: "ip \(arguments.joined(separator: " ")) failed (needs root and iproute2): \(result.standardError)")
        }
    }

    // MARK: - Leftovers of crashed runs

    private static let staleRemoved = Mutex(false)

    private static func removeStaleOnce() async throws {
        let first = staleRemoved.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        if first { try await removeStale() }
    }

    /// Deletes the namespaces (and the processes in them) of test processes that are gone: names
    /// `smnet-<pid>-…` whose pid no longer runs.
    public static func removeStale() async throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? []
        for name in names where name.hasPrefix(namePrefix) {
            guard let pid = pid_t(name.dropFirst(namePrefix.count).prefix { $0.isNumber }) else { continue }
            if Glibc.kill(pid, 0) == -1 && errno == ESRCH { await delete(namespace: name) }
        }
    }

    /// Names of this network's namespaces that exist now (for the self-test).
    public func existingNamespaces() -> [String] {
        let names = Set((try? FileManager.default.contentsOfDirectory(atPath: "/run/netns")) ?? [])
        return (hosts.map(\.namespace) + [bridgeNamespace]).filter(names.contains)
    }
}
