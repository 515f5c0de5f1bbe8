import Etcd
import Foundation
import Testing
import TestSupport

/// Every command through TLS with client certificates and through etcd's RBAC, as real
/// `service-monitor` processes; refusals are one line with the documented exit status, at once;
/// the etcd password never shows where the operator did not put it.
@Suite("security: TLS, RBAC and the password", .timeLimit(.minutes(3)))
struct SecurityTests {
    // MARK: TLS

    @Test func withTheRightCertificatesEveryCommandWorksThroughTLSWithClientCertificates() async throws {
        try await withSecureCluster { cluster, certificates in
            let tlsFlags = ["--cacert", certificates.caFile, "--cert", certificates.clientCertificateFile, "--key", certificates.clientKeyFile]
            // The same files through the environment, as units pass them.
            let tlsEnvironment: [String: String?] = [
                "ETCDCTL_CACERT": certificates.caFile, "ETCDCTL_CERT": certificates.clientCertificateFile, "ETCDCTL_KEY": certificates.clientKeyFile,
            ]
            let endpoint = cluster.clientURLs[0]
            #expect(endpoint.hasPrefix("https://"))
            let label = uniqueLabel("tls")
            let configuration = EtcdClient.Configuration(
                endpoints: cluster.clientURLs,
                tls: .init(caFile: certificates.caFile, certificateFile: certificates.clientCertificateFile, keyFile: certificates.clientKeyFile)
            )
            try await withEtcdClient(configuration) { client in
                let service = try await StandIn()
                let watcher = try MonitorProcess(
                    ["watch", "--endpoints", endpoint, "--label", label, "--service-id", "t-1", "--monitor-url", service.url]
                        + fastWatch(host: "127.0.0.41") + tlsFlags
                )
                let key = "/service-monitor/\(label)/instances/t-1"
                _ = try await client.waitForRecord(key, "up") { $0?.state == "up" }

                var result = try await serviceMonitor(["hosts", "--label", label], environment: tlsEnvironment.merging(["ETCDCTL_ENDPOINTS": endpoint]) { $1 })
                #expect(result.status == 0 && result.standardOutput == "127.0.0.41\n", "\(result)")

                result = try await serviceMonitor(["acquire-lease", "--endpoints", endpoint, "--label", label, "--service-id", "t-2", "--host-ip", "127.0.0.42"] + tlsFlags)
                #expect(result.status == 0 && result.standardOutput.contains("acquired startup lease of t-2"), "\(result)")

                result = try await serviceMonitor(["status", "--endpoints", endpoint, "--label", label] + tlsFlags)
                #expect(result.status == 0, "\(result)")
                #expect(result.standardOutput.contains("t-1") && result.standardOutput.contains("held by t-2"), "\(result)")

                result = try await serviceMonitor(["release-lease", "--endpoints", endpoint, "--label", label, "--service-id", "t-2"], environment: tlsEnvironment)
                #expect(result.status == 0 && result.standardOutput.contains("released startup lease of t-2"), "\(result)")

                #expect(try await watcher.terminate() == 0, "\(watcher.log)")
                #expect(try await client.range(.key(key)).kvs.isEmpty, "SIGTERM revokes the lease through TLS too")
            }
        }
    }

    @Test func aTLSHandshakeTheServerOrTheClientRefusesExits78WithOneLineAtOnce() async throws {
        try await withSecureCluster { cluster, certificates in
            let endpoint = cluster.clientURLs[0]
            let notTrusted = "the server's certificate is not issued by a trusted CA"
            let refused = "the server refused the client certificate"
            let cases: [(what: String, flags: [String], says: String)] = [
                ("a CA that did not sign the server", ["--cacert", certificates.otherCAFile, "--cert", certificates.clientCertificateFile, "--key", certificates.clientKeyFile], notTrusted),
                ("no client certificate", ["--cacert", certificates.caFile], refused),
                ("a client certificate of another CA", ["--cacert", certificates.caFile, "--cert", certificates.otherClientCertificateFile, "--key", certificates.otherClientKeyFile], refused),
                // The test CA is not in the system trust store.
                ("no --cacert", ["--cert", certificates.clientCertificateFile, "--key", certificates.clientKeyFile], notTrusted),
            ]
            // Timeouts far above the bound asserted: a refusal must not wait for them.
            let slowTimeouts = ["--endpoints", endpoint, "--dial-timeout", "15s", "--command-timeout", "15s"]
            for (what, flags, says) in cases {
                for command in [["hosts", "--label", "x"], ["status"], ["acquire-lease", "--label", "x", "--service-id", "x-1", "--host-ip", "127.0.0.1"]] {
                    let (result, elapsed) = try await timed { try await serviceMonitor(command + slowTimeouts + flags) }
                    #expect(result.status == 78, "\(command[0]) with \(what): \(result)")
                    #expect(oneLine(result), "\(command[0]) with \(what): \(result)")
                    #expect(result.standardError.contains("TLS handshake failed: \(says)"), "\(command[0]) with \(what): \(result)")
                    #expect(result.standardError.contains(endpoint), "\(result)")
                    #expect(elapsed < .seconds(5), "\(command[0]) with \(what) took \(elapsed)")
                }
            }

            // watch does not retry a refusal as if etcd were down: it ends the same way.
            let service = try await StandIn()
            let watcher = try MonitorProcess(
                ["watch", "--label", "x", "--service-id", "w-1", "--monitor-url", service.url] + fastWatch(host: "127.0.0.43")
                    + slowTimeouts + ["--cacert", certificates.otherCAFile, "--cert", certificates.clientCertificateFile, "--key", certificates.clientKeyFile]
            )
            let (status, elapsed) = try await timed { try await watcher.waitForExit(timeout: .seconds(10), "watch to give up on an untrusted server") }
            #expect(status == 78, "\(watcher.log)")
            #expect(elapsed < .seconds(5))
            #expect(watcher.log.split(separator: "\n").last?.hasPrefix("service-monitor: etcd: tlsFailure: TLS handshake failed: \(notTrusted)") == true, "\(watcher.log)")
            #expect(!watcher.log.contains("etcd unreachable"), "\(watcher.log)")
        }
    }

    @Test func unusableTLSFilesExit78NamingTheFile() async throws {
        try await withSecureCluster { cluster, certificates in
            let endpoint = cluster.clientURLs[0]
            let missing = certificates.directory + "/missing-key.pem"
            let garbage = certificates.directory + "/garbage.pem"
            try "not a key\n".write(toFile: garbage, atomically: true, encoding: .utf8)
            let cases: [(flags: [String], says: String)] = [
                (["--cert", certificates.clientCertificateFile, "--key", missing], "--key \(missing.debugDescription): cannot read"),
                (["--cert", certificates.clientCertificateFile, "--key", garbage], "TLS key file \(garbage.debugDescription) is not a PEM private key"),
                // A key that is not the certificate's.
                (["--cert", certificates.clientCertificateFile, "--key", certificates.otherClientKeyFile], "TLS key file \(certificates.otherClientKeyFile.debugDescription)"),
                (["--cert", garbage, "--key", certificates.clientKeyFile], "TLS certificate file \(garbage.debugDescription) holds no usable PEM certificate"),
                (["--cacert", garbage], "TLS certificate file \(garbage.debugDescription) holds no usable PEM certificate"),
                (["--cert", certificates.clientCertificateFile], "--cert and --key go together"),
            ]
            for (flags, says) in cases {
                let result = try await serviceMonitor(["hosts", "--endpoints", endpoint, "--label", "x"] + flags)
                #expect(result.status == 78, "\(flags): \(result)")
                #expect(oneLine(result), "\(flags): \(result)")
                #expect(result.standardError.contains(says), "\(flags): \(result)")
            }
        }
    }

    // MARK: RBAC

    @Test func aUserWhoseRoleCoversThePrefixCanDoEverythingWithThePasswordFromAFile() async throws {
        try await withAuthCluster { cluster, client, users in
            let endpoint = cluster.clientURLs[0]
            let passwordFile = try users.monitorPasswordFile()
            let asMonitor: [String: String?] = ["ETCDCTL_USER": "monitor", "SERVICE_MONITOR_PASSWORD_FILE": passwordFile]
            let label = uniqueLabel("rbac")
            let service = try await StandIn()

            // Waits for a slot first: acquisition under auth (txn, queue lease and its keep-alive).
            var result = try await serviceMonitor(["acquire-lease", "--endpoints", endpoint, "--label", label, "--service-id", "r-1", "--host-ip", "127.0.0.51"], environment: asMonitor)
            #expect(result.status == 0 && result.standardOutput.contains("acquired startup lease of r-1"), "\(result)")

            let watcher = try MonitorProcess(
                ["watch", "--endpoints", endpoint, "--label", label, "--service-id", "r-1", "--monitor-url", service.url, "--user", "monitor"]
                    + fastWatch(host: "127.0.0.51"),
                environment: ["SERVICE_MONITOR_PASSWORD_FILE": passwordFile]
            )
            let key = "/service-monitor/\(label)/instances/r-1"
            let up = try #require(try await client.waitForRecord(key, "up") { $0?.state == "up" })
            // The first up released the startup slot (a delete under auth).
            _ = try await client.waitForRecord("/service-monitor/\(label)/startup/holders/r-1", "released") { $0 == nil }

            result = try await serviceMonitor(["hosts", "--endpoints", endpoint, "--label", label, "--format", "lines"], environment: asMonitor)
            #expect(result.status == 0 && result.standardOutput == "127.0.0.51\n", "\(result)")

            result = try await serviceMonitor(["acquire-lease", "--endpoints", endpoint, "--label", label, "--service-id", "r-2", "--host-ip", "127.0.0.52"], environment: asMonitor)
            #expect(result.status == 0, "\(result)")
            // status asks each holder's lease for its time left.
            result = try await serviceMonitor(["status", "--endpoints", endpoint], environment: asMonitor)
            #expect(result.status == 0, "\(result)")
            #expect(result.standardOutput.contains(label) && result.standardOutput.contains("r-1") && result.standardOutput.contains("held by r-2 ("), "\(result)")
            result = try await serviceMonitor(["release-lease", "--endpoints", endpoint, "--label", label, "--service-id", "r-2", "--user", "monitor"], environment: ["SERVICE_MONITOR_PASSWORD_FILE": passwordFile])
            #expect(result.status == 0 && result.standardOutput.contains("released startup lease of r-2"), "\(result)")

            // SIGTERM revokes the record's lease: allowed, since the user may write its keys.
            #expect(try await watcher.terminate() == 0, "\(watcher.log)")
            #expect(try await client.range(.key(key)).kvs.isEmpty)
            #expect(try await client.leaseTimeToLive(up.lease).ttl == -1, "the lease was revoked, not left to expire")
        }
    }

    @Test func aUserWithoutTheRoleOrWithAWrongPasswordExits77WithOneLine() async throws {
        try await withAuthCluster { cluster, client, users in
            let endpoint = cluster.clientURLs[0]
            let label = uniqueLabel("denied")
            let commands = [
                ["hosts", "--label", label], ["status"], ["status", "--label", label],
                ["acquire-lease", "--label", label, "--service-id", "d-1", "--host-ip", "127.0.0.1"],
                ["release-lease", "--label", label, "--service-id", "d-1"],
            ]
            let strangerFile = try users.passwordFile(users.strangerPassword)
            let wrongPassword = "wrong-\(UUID().uuidString)"
            let wrongFile = try users.passwordFile(wrongPassword)
            let identities: [(what: String, arguments: [String], environment: [String: String?], says: String)] = [
                ("no role", ["--user", "stranger"], ["SERVICE_MONITOR_PASSWORD_FILE": strangerFile], "etcd: permissionDenied: "),
                ("a wrong password", ["--user", "monitor"], ["SERVICE_MONITOR_PASSWORD_FILE": wrongFile], "etcd: authenticationFailed: etcd rejected user 'monitor'"),
                ("a wrong password on the command line", ["--user", "monitor:\(wrongPassword)"], [:], "etcd: authenticationFailed: etcd rejected user 'monitor'"),
                ("no user", [], [:], "etcd: authenticationFailed: etcd has authentication enabled and no user was given"),
            ]
            for (what, arguments, environment, says) in identities {
                for command in commands {
                    let (result, elapsed) = try await timed {
                        try await serviceMonitor(command + ["--endpoints", endpoint, "--command-timeout", "15s"] + arguments, environment: environment)
                    }
                    #expect(result.status == 77, "\(command[0]) with \(what): \(result)")
                    #expect(oneLine(result), "\(command[0]) with \(what): \(result)")
                    #expect(result.standardError.hasPrefix("service-monitor: \(says)"), "\(command[0]) with \(what): \(result)")
                    if what == "no role" {
                        #expect(result.standardError.contains(" refused: user 'stranger' lacks the permission"), "\(command[0]): \(result)")
                    }
                    #expect(!result.standardError.contains(wrongPassword) && !result.standardError.contains(users.strangerPassword), "\(result)")
                    #expect(elapsed < .seconds(5), "\(command[0]) with \(what) took \(elapsed)")
                }
            }

            // watch ends as well, instead of retrying a refusal as if etcd were down.
            let service = try await StandIn()
            for (what, arguments, environment, says) in identities.prefix(2) {
                let watcher = try MonitorProcess(
                    ["watch", "--endpoints", endpoint, "--label", label, "--service-id", "w-1", "--monitor-url", service.url] + fastWatch(host: "127.0.0.53") + arguments,
                    environment: environment
                )
                let (status, elapsed) = try await timed { try await watcher.waitForExit(timeout: .seconds(10), "watch with \(what) to exit") }
                #expect(status == 77, "watch with \(what): \(watcher.log)")
                #expect(elapsed < .seconds(5))
                #expect(watcher.log.split(separator: "\n").last?.hasPrefix("service-monitor: \(says)") == true, "watch with \(what): \(watcher.log)")
                #expect(!watcher.log.contains("etcd unreachable"), "\(watcher.log)")
            }
            #expect(try await client.range(.prefix("/service-monitor/\(label)/")).kvs.isEmpty, "nothing was written")

            // https:// to a member serving plain http: a TLS failure too, said as such.
            var result = try await serviceMonitor(["hosts", "--endpoints", endpoint.replacingOccurrences(of: "http://", with: "https://"), "--label", label, "--command-timeout", "15s"])
            #expect(result.status == 78, "\(result)")
            #expect(oneLine(result), "\(result)")
            #expect(result.standardError.contains("TLS handshake failed: the server closed the connection during the handshake: does it serve TLS on this port?"), "\(result)")

            // An unreadable password file is configuration: 78, naming the file.
            let missing = users.directory + "/no-such-password"
            result = try await serviceMonitor(["hosts", "--endpoints", endpoint, "--label", label, "--user", "monitor"], environment: ["SERVICE_MONITOR_PASSWORD_FILE": missing])
            #expect(result.status == 78, "\(result)")
            #expect(oneLine(result), "\(result)")
            #expect(result.standardError.contains("SERVICE_MONITOR_PASSWORD_FILE \(missing.debugDescription): cannot read"), "\(result)")
        }
    }

    // MARK: The password

    @Test(.shares(.userManager)) func thePasswordNeverShowsInArgvEnvironmentLogsOrTheJournal() async throws {
        try await withAuthCluster { cluster, client, users in
            let endpoint = cluster.clientURLs[0]
            let password = users.monitorPassword
            let passwordFile = try users.monitorPasswordFile()
            let since = Date().timeIntervalSince1970
            let service = try await StandIn()

            // Console, password from the file: not in argv, environ (only the path is), nor the log.
            let label = uniqueLabel("secret")
            let watcher = try MonitorProcess(
                ["watch", "--endpoints", endpoint, "--label", label, "--service-id", "p-1", "--monitor-url", service.url, "--user", "monitor"] + fastWatch(host: "127.0.0.61"),
                environment: ["SERVICE_MONITOR_PASSWORD_FILE": passwordFile]
            )
            _ = try await client.waitForRecord("/service-monitor/\(label)/instances/p-1", "up") { $0?.state == "up" }
            let pid = watcher.process.processIdentifier
            #expect(!(try procFile(pid, "cmdline")).contains(password))
            let environ = try procFile(pid, "environ")
            #expect(!environ.contains(password))
            #expect(environ.contains("SERVICE_MONITOR_PASSWORD_FILE=\(passwordFile)"))
            // The log under test is the real one: it got as far as saying so.
            _ = try await eventually("watch to log its registration") { watcher.log.contains("registered p-1") ? true : nil }
            #expect(try await watcher.terminate() == 0)
            #expect(!watcher.log.contains(password), "\(watcher.log)")

            // Console, password on the command line: there by the operator's choice, but not logged.
            let argvLabel = uniqueLabel("argv")
            let argvWatcher = try MonitorProcess(
                ["watch", "--endpoints", endpoint, "--label", argvLabel, "--service-id", "p-2", "--monitor-url", service.url, "--user", "monitor:\(password)"] + fastWatch(host: "127.0.0.62")
            )
            _ = try await eventually("watch to log its registration") { argvWatcher.log.contains("registered p-2") ? true : nil }
            #expect(try await argvWatcher.terminate() == 0)
            #expect(!argvWatcher.log.contains(password), "\(argvWatcher.log)")

            // Under systemd, logging to journald: the file variant in one unit, argv in another.
            let fileUnit = try await runWatchUnit(endpoint: endpoint, serviceID: "p-3", service: service, client: client, user: ["--user", "monitor"], environment: "SERVICE_MONITOR_PASSWORD_FILE=\(passwordFile)")
            try await UserManager.removing(fileUnit.unit) {
                #expect(!(try procFile(fileUnit.pid, "cmdline")).contains(password))
                #expect(!(try procFile(fileUnit.pid, "environ")).contains(password))
                let argvUnit = try await runWatchUnit(endpoint: endpoint, serviceID: "p-4", service: service, client: client, user: ["--user", "monitor:\(password)"], environment: nil)
                try await UserManager.removing(argvUnit.unit) {
                    try await UserManager.systemctl(["stop", fileUnit.unit, argvUnit.unit])
                    _ = try await Journal.waitForEntries(matching: ["SERVICE_MONITOR_LABEL=\(fileUnit.label)", "MESSAGE_ID=6e9f0a1b2c3d4e5f8a7b6c5d4e3f2a1b"])
                    _ = try await Journal.waitForEntries(matching: ["SERVICE_MONITOR_LABEL=\(argvUnit.label)", "MESSAGE_ID=6e9f0a1b2c3d4e5f8a7b6c5d4e3f2a1b"])

                    // Every field of every journal entry since the test began: from the product, from the
                    // manager about the units. Only argv copies of the argv variant may hold it (journald's
                    // _CMDLINE of its entries, the transient unit's description systemd-run made of argv).
                    let entries = try await Journal.entries(matching: [], extraArguments: ["--since", "@\(Int(since) - 1)"])
                    #expect(entries.contains { $0["SERVICE_MONITOR_LABEL"] == fileUnit.label }, "the journal under test holds the unit's entries")
                    // The scan sees a password where one is: journald's copy of the argv variant's argv.
                    #expect(entries.contains { $0["SERVICE_MONITOR_LABEL"] == argvUnit.label && $0["_CMDLINE"]?.contains(password) == true })
                    for entry in entries {
                        let isArgvCopy = entry["_CMDLINE"]?.contains("monitor:\(password)") == true
                            || entry["UNIT"] == argvUnit.unit || entry["USER_UNIT"] == argvUnit.unit
                        for (field, value) in entry where value.contains(password) {
                            #expect(isArgvCopy && (field == "_CMDLINE" || field == "MESSAGE"), "the password in \(field) of \(entry)")
                            #expect(entry["SYSLOG_IDENTIFIER"] != "service-monitor" || field == "_CMDLINE", "the product logged the password: \(entry)")
                        }
                    }
                }
            }
        }
    }

    // MARK: Fixtures

    private struct Users {
        let directory: String
        let monitorPassword = "pw-\(UUID().uuidString)"
        let strangerPassword = "pw-\(UUID().uuidString)"

        /// A file holding `password` and a newline, as operators write it.
        func passwordFile(_ password: String) throws -> String {
            let path = directory + "/password-\(UUID().uuidString.prefix(8))"
            try "\(password)\n".write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        func monitorPasswordFile() throws -> String { try passwordFile(monitorPassword) }
    }

    /// One member with auth on: `root`; `monitor`, whose role `service-monitor` may read and write
    /// the prefix `/service-monitor/` (etcd's range [`/service-monitor/`, `/service-monitor0`) —
    /// the trailing slash keeps `/service-monitor-other/` out); `stranger`, with no role.
    /// `body` gets a client logged in as root.
    private func withAuthCluster(_ body: (EtcdCluster, EtcdClient, Users) async throws -> Void) async throws {
        let users = Users(directory: try EtcdTestPaths.makeTemporaryDirectory(prefix: "security"))
        defer { try? FileManager.default.removeItem(atPath: users.directory) }
        try await EtcdCluster.with(members: 1) { cluster in
            let rootPassword = "root-\(UUID().uuidString)"
            try await cluster.etcdctl(["user", "add", "root:\(rootPassword)"])
            try await cluster.etcdctl(["user", "add", "monitor:\(users.monitorPassword)"])
            try await cluster.etcdctl(["user", "add", "stranger:\(users.strangerPassword)"])
            try await cluster.etcdctl(["role", "add", "service-monitor"])
            try await cluster.etcdctl(["role", "grant-permission", "service-monitor", "--prefix=true", "readwrite", "/service-monitor/"])
            try await cluster.etcdctl(["user", "grant-role", "monitor", "service-monitor"])
            try await cluster.etcdctl(["auth", "enable"])
            cluster.etcdctlUser = "root:\(rootPassword)"
            try await withEtcdClient(.init(endpoints: cluster.clientURLs, credentials: .init(user: "root", password: rootPassword))) { client in
                try await body(cluster, client, users)
            }
        }
    }

    /// One member serving https and requiring client certificates of the test CA.
    private func withSecureCluster(_ body: (EtcdCluster, EtcdTestCertificates) async throws -> Void) async throws {
        let certificates = try await EtcdTestCertificates.make()
        defer { certificates.remove() }
        try await EtcdCluster.with(members: 1, tls: .init(certificates: certificates)) { cluster in
            try await body(cluster, certificates)
        }
    }

    /// Starts `watch` as a `Type=notify` unit (stderr to the journal) and waits until it is
    /// registered and up; returns the unit, its label and main PID.
    private func runWatchUnit(
        endpoint: String, serviceID: String, service: StandIn, client: EtcdClient, user: [String], environment: String?
    ) async throws -> (unit: String, label: String, pid: pid_t) {
        let label = uniqueLabel("unit-secret")
        let unit = "sm-secret-\(label).service"
        let started = try await UserManager.run(
            unit: unit,
            properties: ["Type=notify", "NotifyAccess=main"] + (environment.map { ["Environment=\($0)"] } ?? []),
            command: [try BuildProducts.executable(named: "service-monitor"), "watch", "--endpoints", endpoint, "--label", label,
                      "--service-id", serviceID, "--monitor-url", service.url, "--interval", "500ms", "--timeout", "300ms",
                      "--host-ip", "127.0.0.63"] + user
        )
        guard started.status == 0 else {
            await UserManager.remove(unit: unit)
            throw CommandError(description: "the unit did not start: \(started)")
        }
        _ = try await Journal.waitForEntries(matching: ["SERVICE_MONITOR_LABEL=\(label)", "MESSAGE_ID=5d8e1f2a3b4c4d5e9f0a1b2c3d4e5f60"])
        let pid = try #require(pid_t(try await UserManager.properties(of: unit, ["MainPID"])["MainPID"] ?? ""))
        return (unit, label, pid)
    }

    private func fastWatch(host: String) -> [String] {
        ["--interval", "300ms", "--timeout", "200ms", "--host-ip", host, "--log-target", "console"]
    }

    private func serviceMonitor(_ arguments: [String], environment: [String: String?] = [:]) async throws -> CommandResult {
        try await Command.run(
            try BuildProducts.executable(named: "service-monitor"), arguments,
            environment: environment.merging(["JOURNAL_STREAM": nil, "NOTIFY_SOCKET": nil]) { mine, _ in mine },
            timeout: .seconds(30)
        )
    }

    /// One line on stderr, nothing on stdout.
    private func oneLine(_ result: CommandResult) -> Bool {
        result.standardOutput.isEmpty && result.standardError.hasSuffix("\n") && result.standardError.filter { $0 == "\n" }.count == 1
    }

    /// `/proc/<pid>/<name>` with NULs as spaces.
    private func procFile(_ pid: pid_t, _ name: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/\(name)"))
        return String(decoding: data.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }

    private func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
        let start = ContinuousClock.now
        let value = try await body()
        return (value, ContinuousClock.now - start)
    }
}
