import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Real `etcd` members on loopback for tests: free ports, a temporary data directory, and
/// everything stopped and deleted afterwards.
///
/// ```swift
/// try await EtcdCluster.with(members: 3) { cluster in
///     // cluster.clientURLs → ["http://127.0.0.1:41234", ...]
///     await cluster.kill(member: 0)
///     try await cluster.restart(member: 0)
/// }
/// ```
///
/// Or one member in each of some hosts of a ``TestNetwork``, for partition tests:
/// `EtcdCluster.with(on: network, hosts: Array(network.hosts.prefix(3))) { … }`.
///
/// Output of each member goes to `<directory>/<name>.log` (quoted in errors).
public final class EtcdCluster: @unchecked Sendable {
    /// One member's addresses and process.
    public struct Member: Sendable {
        public let name: String
        public let clientPort: Int
        public let peerPort: Int
        public let clientURL: String
        public let peerURL: String
        public let dataDirectory: String
        public let logFile: String
        /// The host of a ``TestNetwork`` it runs in; nil on loopback.
        public let host: TestNetwork.Host?
    }

    /// TLS for the client port (peers stay plain HTTP on loopback).
    public struct TLS: Sendable {
        public var certificates: EtcdTestCertificates
        /// Require client certificates signed by the CA (`--trusted-ca-file`, `--client-cert-auth`);
        /// without, etcd serves TLS to any client.
        public var requireClientCertificates: Bool

        public init(certificates: EtcdTestCertificates, requireClientCertificates: Bool = true) {
            self.certificates = certificates
            self.requireClientCertificates = requireClientCertificates
        }
    }

    public let members: [Member]
    public let directory: String
    public let tls: TLS?
    /// Added to every member's command line (`--quota-backend-bytes`, …).
    public let extraArguments: [String]
    private let network: TestNetwork?
    /// `user:password` passed to `etcdctl` once auth is enabled.
    public var etcdctlUser: String? {
        get { self.lock.withLock { self._etcdctlUser } }
        set { self.lock.withLock { self._etcdctlUser = newValue } }
    }

    private let lock = NSLock()
    private var processes: [ChildProcess?]
    private var _etcdctlUser: String?
    private var stopped = false

    /// Client URLs of all members, in member order.
    public var clientURLs: [String] { self.members.map(\.clientURL) }

    /// Starts `members` members and waits until the cluster answers (bounded by
    /// `startTimeout`), then runs `body` and stops everything — also when `body` throws.
    public static func with<Result>(
        members: Int = 1,
        tls: TLS? = nil,
        loopback: String = "127.0.0.1",
        startTimeout: Duration = .seconds(30),
        extraArguments: [String] = [],
        _ body: (EtcdCluster) async throws -> Result
    ) async throws -> Result {
        let cluster = try await EtcdCluster.start(
            members: members, tls: tls, loopback: loopback, startTimeout: startTimeout, extraArguments: extraArguments
        )
        return try await cluster.running(body)
    }

    /// One member in each of `hosts` of `network`, on the host's address (ports 2379 and 2380:
    /// each host has its own), started and stopped as ``with(members:tls:loopback:startTimeout:extraArguments:_:)`` does.
    public static func with<Result>(
        on network: TestNetwork,
        hosts: [TestNetwork.Host],
        startTimeout: Duration = .seconds(30),
        extraArguments: [String] = [],
        _ body: (EtcdCluster) async throws -> Result
    ) async throws -> Result {
        let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "etcd-network")
        let members = hosts.enumerated().map { index, host in
            Member(
                name: "m\(index)", clientPort: 2379, peerPort: 2380,
                clientURL: "http://\(host.address):2379", peerURL: "http://\(host.address):2380",
                dataDirectory: "\(directory)/m\(index).data", logFile: "\(directory)/m\(index).log", host: host
            )
        }
        let cluster = EtcdCluster(members: members, directory: directory, tls: nil, extraArguments: extraArguments, network: network)
        do {
            for index in members.indices { try cluster.launch(member: index, initialState: "new") }
            try await cluster.waitUntilHealthy(timeout: startTimeout)
        } catch {
            await cluster.stop()
            throw error
        }
        return try await cluster.running(body)
    }

    /// Runs `body` on this started cluster, then stops it — also when `body` throws.
    private func running<Result>(_ body: (EtcdCluster) async throws -> Result) async throws -> Result {
        do {
            let result = try await body(self)
            await self.stop()
            return result
        } catch {
            await self.stop()
            throw error
        }
    }

    /// Starts a cluster; call ``stop()`` when done (``with(members:tls:loopback:startTimeout:extraArguments:_:)`` does).
    /// `loopback` is the address members listen on, as written in a URL (`[::1]` for IPv6).
    public static func start(
        members count: Int = 1, tls: TLS? = nil, loopback: String = "127.0.0.1", startTimeout: Duration = .seconds(30),
        extraArguments: [String] = []
    ) async throws -> EtcdCluster {
        precondition(count >= 1)
        // A probed port is free only until someone binds it: with suites running in parallel an
        // outgoing connection or another listener may take it first, and the member exits. Fresh
        // ports then (a member that exits for another reason fails the same way three times).
        for _ in 1..<3 {
            do {
                return try await self.startOnce(members: count, tls: tls, loopback: loopback, startTimeout: startTimeout, extraArguments: extraArguments)
            } catch is MemberExitedDuringStartUp {
                continue
            }
        }
        return try await self.startOnce(members: count, tls: tls, loopback: loopback, startTimeout: startTimeout, extraArguments: extraArguments)
    }

    private static func startOnce(
        members count: Int, tls: TLS?, loopback: String, startTimeout: Duration, extraArguments: [String]
    ) async throws -> EtcdCluster {
        let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "etcd-cluster")
        let ports = try EtcdFreePorts.take(2 * count)
        let clientScheme = tls == nil ? "http" : "https"
        let members = (0..<count).map { index in
            let name = "m\(index)"
            return Member(
                name: name,
                clientPort: ports[2 * index],
                peerPort: ports[2 * index + 1],
                clientURL: "\(clientScheme)://\(loopback):\(ports[2 * index])",
                peerURL: "http://\(loopback):\(ports[2 * index + 1])",
                dataDirectory: "\(directory)/\(name).data",
                logFile: "\(directory)/\(name).log",
                host: nil
            )
        }
        let cluster = EtcdCluster(members: members, directory: directory, tls: tls, extraArguments: extraArguments, network: nil)
        do {
            for index in members.indices { try cluster.launch(member: index, initialState: "new") }
            try await cluster.waitUntilHealthy(timeout: startTimeout)
        } catch {
            await cluster.stop()
            throw error
        }
        return cluster
    }

    private init(members: [Member], directory: String, tls: TLS?, extraArguments: [String], network: TestNetwork?) {
        self.members = members
        self.directory = directory
        self.tls = tls
        self.extraArguments = extraArguments
        self.network = network
        self.processes = Array(repeating: nil, count: members.count)
    }

    deinit {
        // Without waiting (a deinit cannot): SIGKILL ends them at once, and the data goes.
        for process in self.processes { process?.send(SIGKILL) }
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    // MARK: - Member control

    /// SIGKILLs one member (no graceful shutdown: its connections just drop) and waits until
    /// it is gone.
    public func kill(member index: Int) async {
        await self.takeProcess(member: index)?.kill()
    }

    private func takeProcess(member index: Int) -> ChildProcess? {
        self.lock.withLock {
            defer { self.processes[index] = nil }
            return self.processes[index]
        }
    }

    /// Freezes a member with SIGSTOP: its connections stay open but nothing answers, as with a
    /// hung host or a network partition.
    public func pause(member index: Int) {
        self.signal(SIGSTOP, member: index)
    }

    /// Lets a paused member run again (SIGCONT).
    public func resume(member index: Int) {
        self.signal(SIGCONT, member: index)
    }

    private func signal(_ signal: Int32, member index: Int) {
        self.lock.withLock({ self.processes[index] })?.send(signal)
    }

    /// Starts a killed member again with its data and waits until it answers.
    public func restart(member index: Int, timeout: Duration = .seconds(30)) async throws {
        try self.launch(member: index, initialState: "existing")
        try await self.waitUntilHealthy(members: [index], timeout: timeout)
    }

    /// Starts several killed members again together and waits until all answer — needed when
    /// the cluster lost quorum, since a lone restarted member cannot answer before the others.
    public func restart(members indices: [Int], timeout: Duration = .seconds(30)) async throws {
        for index in indices { try self.launch(member: index, initialState: "existing") }
        try await self.waitUntilHealthy(members: indices, timeout: timeout)
    }

    /// Index of the member the running members report as raft leader (`etcdctl endpoint
    /// status`), once all of them agree on one; bounded by `timeout`.
    public func leader(timeout: Duration = .seconds(15)) async throws -> Int {
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var lastAnswer = ""
        while ContinuousClock.now < deadline {
            let running = self.members.indices.filter { self.isRunning(member: $0) }
            // `-w fields` prints the ids as exact decimal strings (JSON numbers lose precision).
            if let output = try? await self.etcdctl(["endpoint", "status", "-w", "fields"], members: running, user: nil) {
                lastAnswer = output
                var memberIDs: [String: String] = [:], leaders: Set<String> = [], endpoint = "", memberID = "", leader = ""
                for line in output.split(separator: "\n") {
                    let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2 else { continue }
                    let value = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                    switch parts[0] {
                    case "\"MemberID\"": memberID = value
                    case "\"Leader\"": leader = value
                    case "\"Endpoint\"":
                        endpoint = value
                        memberIDs[endpoint] = memberID
                        leaders.insert(leader)
                    default: break
                    }
                }
                if leaders.count == 1, let leader = leaders.first, leader != "0",
                    let url = memberIDs.first(where: { $0.value == leader })?.key,
                    let index = self.memberIndex(clientURL: url)
                {
                    return index
                }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw EtcdTestError("no agreed leader among the running members within \(timeout): \(lastAnswer)")
    }

    /// Whether the member's process is running.
    public func isRunning(member index: Int) -> Bool {
        self.lock.withLock { self.processes[index]?.isRunning ?? false }
    }

    /// Index of the member with this client URL.
    public func memberIndex(clientURL: String) -> Int? {
        self.members.firstIndex { $0.clientURL == clientURL }
    }

    /// Kills every member, waits until they are gone, and deletes the data directory. Safe to
    /// call twice.
    public func stop() async {
        let alreadyStopped = self.lock.withLock { () -> Bool in
            defer { self.stopped = true }
            return self.stopped
        }
        guard !alreadyStopped else { return }
        for index in self.members.indices {
            await self.takeProcess(member: index)?.kill()
        }
        try? FileManager.default.removeItem(atPath: self.directory)
    }

    // MARK: - etcdctl

    /// Runs `etcdctl` against `members` (default: all) with the cluster's TLS and, once set,
    /// ``etcdctlUser``; returns stdout, throws with stderr on failure.
    @discardableResult
    public func etcdctl(_ arguments: [String], members: [Int]? = nil, user: String? = nil) async throws -> String {
        let endpoints = (members ?? Array(self.members.indices)).map { self.members[$0].clientURL }
        var fullArguments = ["--endpoints=\(endpoints.joined(separator: ","))", "--dial-timeout=2s", "--command-timeout=5s"]
        if let tls = self.tls {
            fullArguments += [
                "--cacert=\(tls.certificates.caFile)",
                "--cert=\(tls.certificates.clientCertificateFile)",
                "--key=\(tls.certificates.clientKeyFile)",
            ]
        }
        if let user = user ?? self.etcdctlUser { fullArguments.append("--user=\(user)") }
        return try await Command.output("/usr/bin/etcdctl", fullArguments + arguments, environment: ["ETCDCTL_API": "3"])
    }

    // MARK: - Internals

    private func launch(member index: Int, initialState: String) throws {
        let member = self.members[index]
        let initialCluster = self.members.map { "\($0.name)=\($0.peerURL)" }.joined(separator: ",")
        var arguments = [
            "--name", member.name,
            "--data-dir", member.dataDirectory,
            "--listen-client-urls", member.clientURL,
            "--advertise-client-urls", member.clientURL,
            "--listen-peer-urls", member.peerURL,
            "--initial-advertise-peer-urls", member.peerURL,
            "--initial-cluster", initialCluster,
            "--initial-cluster-state", initialState,
            "--initial-cluster-token", URL(fileURLWithPath: self.directory).lastPathComponent,
            "--logger", "zap",
            "--log-level", "error",
            // Fast elections keep fail-over tests short; fine on loopback.
            "--heartbeat-interval", "50",
            "--election-timeout", "500",
        ] + self.extraArguments
        if let tls = self.tls {
            arguments += ["--cert-file", tls.certificates.serverCertificateFile, "--key-file", tls.certificates.serverKeyFile]
            // etcd requires client certificates whenever it has --trusted-ca-file, whatever
            // --client-cert-auth says.
            if tls.requireClientCertificates {
                arguments += ["--trusted-ca-file", tls.certificates.caFile, "--client-cert-auth"]
            }
        }
        if !FileManager.default.fileExists(atPath: member.logFile) {
            _ = FileManager.default.createFile(atPath: member.logFile, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: member.logFile))
        log.seekToEndOfFile()
        defer { try? log.close() }
        let process: ChildProcess
        do {
            if let network = self.network, let host = member.host {
                process = try network.start(in: host, "/usr/bin/etcd", arguments, standardOutput: log, standardError: log)
            } else {
                process = try Command.start("/usr/bin/etcd", arguments, standardOutput: log, standardError: log)
            }
        } catch {
            throw EtcdTestError("cannot start /usr/bin/etcd (is etcd-server installed?): \(error)")
        }
        self.lock.withLock { self.processes[index] = process }
    }

    /// Polls `etcdctl endpoint health` (a real read through raft) until every given member
    /// answers healthy.
    private func waitUntilHealthy(members indices: [Int]? = nil, timeout: Duration) async throws {
        let indices = indices ?? Array(self.members.indices)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        var lastError = ""
        while ContinuousClock.now < deadline {
            for index in indices where !self.isRunning(member: index) {
                throw MemberExitedDuringStartUp(description: "etcd member \(self.members[index].name) exited during start-up:\n\(self.logTail(member: index))")
            }
            do {
                // Health needs no auth and works before auth is enabled; --user is irrelevant.
                try await self.etcdctl(["endpoint", "health"], members: indices, user: nil)
                return
            } catch {
                lastError = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw EtcdTestError("etcd members \(indices) not healthy within \(timeout): \(lastError)\n\(self.logTail(member: indices[0]))")
    }

    private func logTail(member index: Int) -> String {
        let text = (try? String(contentsOfFile: self.members[index].logFile, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(20).joined(separator: "\n")
    }
}

private struct MemberExitedDuringStartUp: Error, CustomStringConvertible {
    var description: String
}
