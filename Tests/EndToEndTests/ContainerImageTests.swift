import Etcd
import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The OCI image the way an operator gets it: built by packaging/build-image.sh without a daemon,
/// loaded into podman, run from the command line and from the example unit under the private
/// systemd manager.
///
/// Like PackageTests it packs the debug binary the tests already built, so the image also carries
/// the toolchain's Swift runtime libraries (a release binary links them statically). podman keeps
/// its storage and state in a temporary directory, configured for this cgroup-v1 host (vfs,
/// cgroupfs, runc, file events) through CONTAINERS_CONF and CONTAINERS_STORAGE_CONF, so runs
/// share nothing but podman's blob-info cache (/var/lib/containers/cache, locked while written).
// Alone on the user manager: it installs a template under a fixed name and reloads the manager.
@Suite("container image", .needsAlone(.userManager), .timeLimit(.minutes(5)))
struct ContainerImageTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let exampleUnit = "units/examples/container/service-monitor-container@.service"
    static let uid = "65532"
    static let source = "https://source.invalid/service-monitor"
    static let deregisteredID = "6e9f0a1b2c3d4e5f8a7b6c5d4e3f2a1b"

    @Test func buildsWithTheLinkedLibrariesRunsUnderPodmanAndReachesActiveUnderSystemd() async throws {
        try #require(getuid() == 0, "podman's storage and cgroups need root (./dev test runs as root)")
        let podman = try Podman()
        do {
            try await scenario(podman)
        } catch {
            await podman.tearDown()
            throw error
        }
        await podman.tearDown()
    }

    func scenario(_ podman: Podman) async throws {
        let image = try await buildAndLoad(podman)
        try await checkImage(podman, image)
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                try await checkHostsAndWatch(podman, image, cluster, client)
                try await checkUnit(podman, image, cluster, client)
            }
        }
    }

    // MARK: - Steps

    struct Image {
        var archive: String
        var reference: String
        var version: String
    }

    /// Runs packaging/build-image.sh on the debug binary and loads the archive into podman.
    func buildAndLoad(_ podman: Podman) async throws -> Image {
        let binary = try BuildProducts.executable(named: "service-monitor")
        let script = Self.repository.appendingPathComponent("packaging/build-image.sh").path
        let built = try await Command.run(
            script, [binary, podman.directory],
            environment: ["IMAGE_SOURCE": Self.source, "SOURCE_DATE_EPOCH": "1700000000"],
            timeout: .seconds(240)
        )
        try #require(built.status == 0, "\(built)")
        let archive = built.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let version = try await Command.run(binary, ["--version"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let architecture = try await Command.run("dpkg", ["--print-architecture"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(archive == "\(podman.directory)/service-monitor_\(version)_\(architecture).oci.tar")

        let loaded = try await podman.run(["load", "--input", archive], timeout: .seconds(180))
        try #require(loaded.status == 0, "\(loaded)")
        let reference = "localhost/service-monitor:\(version)"
        #expect(loaded.standardOutput.contains("Loaded image: \(reference)"), "\(loaded)")
        return Image(archive: archive, reference: reference, version: version)
    }

    /// The configuration and labels, and a file system of exactly the binary, the libraries the
    /// loader maps for it, CA certificates and the account files.
    func checkImage(_ podman: Podman, _ image: Image) async throws {
        let inspected = try await podman.run(["image", "inspect", image.reference])
        try #require(inspected.status == 0, "\(inspected)")
        let object = try #require((try JSONSerialization.jsonObject(with: Data(inspected.standardOutput.utf8)) as? [[String: Any]])?.first)
        let config = try #require(object["Config"] as? [String: Any], "\(object)")
        #expect(config["Entrypoint"] as? [String] == ["/usr/bin/service-monitor"])
        #expect(config["User"] as? String == "\(Self.uid):\(Self.uid)")
        let labels = config["Labels"] as? [String: String] ?? [:]
        #expect(labels["org.opencontainers.image.version"] == image.version, "\(labels)")
        #expect(labels["org.opencontainers.image.licenses"] == "Apache-2.0", "\(labels)")
        #expect(labels["org.opencontainers.image.source"] == Self.source, "\(labels)")
        #expect(labels["org.opencontainers.image.created"] == "2023-11-14T22:13:20Z", "\(labels)")
        #expect(labels["org.opencontainers.image.title"] == "service-monitor", "\(labels)")
        #expect(object["Os"] as? String == "linux")

        let mounted = try await podman.run(["image", "mount", image.reference])
        try #require(mounted.status == 0, "\(mounted)")
        let root = mounted.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        var files = Set<String>()
        let enumerator = try #require(FileManager.default.enumerator(atPath: root))
        while let path = enumerator.nextObject() as? String {
            if enumerator.fileAttributes?[.type] as? FileAttributeType != .typeDirectory { files.insert("/" + path) }
        }
        let ownFiles: Set = ["/usr/bin/service-monitor", "/etc/ssl/certs/ca-certificates.crt", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf"]
        let binary = try BuildProducts.executable(named: "service-monitor")
        var libraries = try await linkedLibraries(of: binary)
        #expect(libraries.contains { $0.contains("libswiftCore.so") }, "\(libraries)")
        // libsystemd, which the binary opens at its first call (no DT_NEEDED entry), and its tree.
        #expect(!libraries.contains { $0.hasSuffix("/libsystemd.so.0") }, "\(libraries)")
        let libsystemd = try await openedLibrary("libsystemd.so.0", by: binary)
        libraries.insert(libsystemd)
        libraries.formUnion(try await linkedLibraries(of: libsystemd))
        #expect(files == ownFiles.union(libraries), "\(files.symmetricDifference(ownFiles.union(libraries)).sorted())")
        let passwd = try String(contentsOfFile: root + "/etc/passwd", encoding: .utf8)
        #expect(passwd.contains("\nservice-monitor:x:\(Self.uid):\(Self.uid):"), "\(passwd)")
        let certificates = FileManager.default.contentsEqual(atPath: root + "/etc/ssl/certs/ca-certificates.crt", andPath: "/etc/ssl/certs/ca-certificates.crt")
        #expect(certificates)
        _ = try await podman.run(["image", "unmount", image.reference])

        // It runs: the entry point is the binary, as the unprivileged user.
        let version = try await podman.run(["run", "--rm", image.reference, "--version"], timeout: .seconds(120))
        #expect(version.status == 0 && version.standardOutput == image.version + "\n", "\(version)")
    }

    /// `hosts` in a container lists instances registered by a watcher on the host and by one in a
    /// container; the one in the container follows its service and deregisters on `podman stop`.
    func checkHostsAndWatch(_ podman: Podman, _ image: Image, _ cluster: EtcdCluster, _ client: EtcdClient) async throws {
        let label = uniqueLabel("image")
        let endpoint = cluster.clientURLs[0]
        let hostService = try await StandIn(), containerService = try await StandIn()
        let hostWatcher = try MonitorProcess([
            "watch", "--endpoints", endpoint, "--label", label, "--service-id", "h-1", "--monitor-url", hostService.url,
            "--interval", "300ms", "--timeout", "200ms", "--host-ip", "127.0.0.41", "--log-target", "console",
        ])
        _ = try await client.waitForRecord("/service-monitor/\(label)/instances/h-1", "up") { $0?.state == "up" }

        let container = "sm-\(label)"
        // In the foreground, as the unit runs it: podman run lasts as long as the container.
        let running = try podman.start([
            "run", "--name", container, "--network", "host", image.reference,
            "watch", "--endpoints", endpoint, "--label", label, "--service-id", "c-1", "--monitor-url", containerService.url,
            "--interval", "500ms", "--timeout", "300ms", "--host-ip", "127.0.0.42", "--log-target", "console",
        ])
        do {
            try await followAndStop(podman, image, running, container, endpoint: endpoint, label: label, service: containerService, client)
        } catch {
            _ = try? await podman.run(["rm", "--force", "--time", "2", container])
            await running.process.kill()
            throw error
        }
        _ = try await podman.run(["rm", container])
        #expect(try await hostWatcher.terminate() == 0)
        #expect(!hostService.served.isEmpty)
    }

    func followAndStop(
        _ podman: Podman, _ image: Image, _ running: BackgroundPodman, _ container: String,
        endpoint: String, label: String, service containerService: StandIn, _ client: EtcdClient
    ) async throws {
        let key = "/service-monitor/\(label)/instances/c-1"
        let up = try await client.waitForRecord(key, timeout: .seconds(60), "up") { $0?.state == "up" }
        try #require(up != nil, "\(running.log)")
        #expect(up?.host == "127.0.0.42")

        let hosts = try await podman.run(
            ["run", "--rm", "--network", "host", image.reference, "hosts", "--endpoints", endpoint, "--label", label], timeout: .seconds(120)
        )
        #expect(hosts.status == 0 && hosts.standardOutput == "127.0.0.41,127.0.0.42\n", "\(hosts)")

        try containerService.set(status: 503)
        let down = try #require(try await client.waitForRecord(key, "down") { $0?.state == "down" })
        #expect(down.detail?.hasPrefix("HTTP 503 in ") == true)
        try containerService.set(status: 200)
        _ = try await client.waitForRecord(key, "up again") { $0?.state == "up" }

        // podman stop sends SIGTERM: deregistered at once, exit 0 (podman run returns the container's status).
        let stopped = try await podman.run(["stop", "--time", "15", container], timeout: .seconds(60))
        #expect(stopped.status == 0, "\(stopped)")
        #expect(try await client.range(.key(key)).kvs.isEmpty)
        let status = try await running.process.waitForExit(timeout: .seconds(30), "podman run to return")
        #expect(status == 0, "\(running.log)")
        #expect(running.log.contains("MESSAGE_ID=\(Self.deregisteredID)"), "no deregistered entry: \(running.log)")
    }

    /// The example unit, unchanged but for where it reads its settings: systemd-analyze verify
    /// accepts it; started, it becomes active on the READY=1 the process in the container sends
    /// once registered, the watchdog pings get through, the journal has the structured entries
    /// under the unit, and stopping the unit deregisters.
    func checkUnit(_ podman: Podman, _ image: Image, _ cluster: EtcdCluster, _ client: EtcdClient) async throws {
        let template = try String(contentsOf: Self.repository.appendingPathComponent(Self.exampleUnit), encoding: .utf8)
        let verifyCopy = podman.directory + "/service-monitor-container@1.service"
        try template.write(toFile: verifyCopy, atomically: true, encoding: .utf8)
        let verified = try await Command.run("systemd-analyze", ["verify", "--man=no", verifyCopy])
        #expect(verified.status == 0 && verified.standardError.isEmpty && verified.standardOutput.isEmpty, "\(verified)")

        let label = uniqueLabel("unit")
        let service = try await StandIn()
        let settings = """
            LABEL=\(label)
            SERVICE_ID=u-1
            MONITOR_URL=\(service.url)
            WATCH_OPTIONS=--interval=500ms --timeout=300ms --host-ip=127.0.0.43
            SERVICE_MONITOR_ENDPOINTS=\(cluster.clientURLs[0])
            IMAGE=\(image.reference)
            CONTAINERS_CONF=\(podman.containersConf)
            CONTAINERS_STORAGE_CONF=\(podman.storageConf)

            """
        try settings.write(toFile: "\(podman.directory)/\(label).env", atomically: true, encoding: .utf8)
        let unitDirectory = try UserManager.environment()["XDG_RUNTIME_DIR"]!! + "/systemd/user"
        try FileManager.default.createDirectory(atPath: unitDirectory + "/service-monitor-container@.service.d", withIntermediateDirectories: true)
        let installed = unitDirectory + "/service-monitor-container@.service"
        // A short watchdog, so the test sees pings within seconds (the example says 30 s).
        let dropIn = unitDirectory + "/service-monitor-container@.service.d/test-watchdog.conf"
        try template.replacingOccurrences(of: "/etc/service-monitor/%i.env", with: podman.directory + "/%i.env")
            .write(toFile: installed, atomically: true, encoding: .utf8)
        try "[Service]\nWatchdogSec=4s\n".write(toFile: dropIn, atomically: true, encoding: .utf8)
        let unit = "service-monitor-container@\(label).service"
        do {
            try await UserManager.removing(unit) {
                try await runUnit(unit, label: label, service: service, client)
            }
        } catch {
            try? FileManager.default.removeItem(atPath: installed)
            try? FileManager.default.removeItem(atPath: dropIn)
            _ = try? await UserManager.systemctl(["daemon-reload"])
            throw error
        }
        try? FileManager.default.removeItem(atPath: installed)
        try? FileManager.default.removeItem(atPath: dropIn)
        _ = try await UserManager.systemctl(["daemon-reload"])
    }

    func runUnit(_ unit: String, label: String, service: StandIn, _ client: EtcdClient) async throws {
        try #require(try await UserManager.systemctl(["daemon-reload"]).status == 0)

        // systemctl start returns once READY=1 arrived, which `watch` sends after registering.
        let start = try await UserManager.systemctl(["start", unit], timeout: .seconds(150))
        let status = start.status == 0 ? "" : ((try? await UserManager.systemctl(["status", unit]))?.standardOutput ?? "")
        try #require(start.status == 0, "\(start)\n\(status)")
        let key = "/service-monitor/\(label)/instances/u-1"
        let record = try StoredRecord(try #require(try await client.range(.key(key)).kvs.first, "active before registering"))
        #expect(record.host == "127.0.0.43")
        let properties = try await UserManager.properties(of: unit, ["ActiveState", "MainPID", "WatchdogTimestampMonotonic"])
        #expect(properties["ActiveState"] == "active")
        // The main process is conmon (podman said so with MAINPID=), not the container's process.
        let mainPID = try #require(properties["MainPID"])
        let command = try? String(contentsOfFile: "/proc/\(mainPID)/comm", encoding: .utf8)
        #expect(command == "conmon\n", "\(properties)")

        _ = try await client.waitForRecord(key, "up") { $0?.state == "up" }
        #expect(!service.served.isEmpty)
        let firstPing = UInt64(properties["WatchdogTimestampMonotonic"] ?? "") ?? 0
        let laterPing = try await eventually("a watchdog ping from the container", timeout: .seconds(15)) { () -> UInt64? in
            let stamp = UInt64(try await UserManager.properties(of: unit, ["WatchdogTimestampMonotonic"])["WatchdogTimestampMonotonic"] ?? "") ?? 0
            return stamp > firstPing ? stamp : nil
        }
        #expect(laterPing > firstPing)

        // The binary's own journal entries, fields intact, in the unit's cgroup.
        let entries = try await Journal.waitForEntries(matching: ["SERVICE_MONITOR_LABEL=\(label)", "SERVICE_MONITOR_STATE=up"])
        for entry in entries {
            #expect(entry["MESSAGE_ID"] == "3c7a4f1e9b2d4e0f8a6b5c4d3e2f1a0b")
            #expect(entry["SERVICE_MONITOR_SERVICE_ID"] == "u-1")
            #expect(entry["SERVICE_MONITOR_HOST"] == "127.0.0.43")
            #expect(entry["SERVICE_MONITOR_HTTP_STATUS"] == "200")
            #expect(entry["SYSLOG_IDENTIFIER"] == "service-monitor")
            #expect(entry["_UID"] == Self.uid)
            #expect(entry["_SYSTEMD_CGROUP"]?.contains("/\(unit)/") == true, "\(entry)")
        }

        let stop = try await UserManager.systemctl(["stop", unit], timeout: .seconds(60))
        #expect(stop.status == 0, "\(stop)")
        #expect(try await client.range(.key(key)).kvs.isEmpty)
        let stopped = try await UserManager.properties(of: unit, ["ActiveState", "Result"])
        #expect(stopped["ActiveState"] == "inactive" && stopped["Result"] == "success", "\(stopped)")
        let deregistered = try await Journal.waitForEntries(matching: ["SERVICE_MONITOR_LABEL=\(label)", "MESSAGE_ID=\(Self.deregisteredID)"])
        #expect(deregistered.count == 1)
    }

    // MARK: - Helpers

    /// Every file the dynamic loader maps for `binary` (the loader included), as ldd resolves them.
    /// Where `packaging/dlopen-libraries.py` finds `soname`, which `binary`'s .note.dlopen must name.
    func openedLibrary(_ soname: String, by binary: String) async throws -> String {
        let script = Self.repository.appendingPathComponent("packaging/dlopen-libraries.py").path
        let listed = try await Command.run(script, [binary])
        try #require(listed.status == 0, "\(listed)")
        let line = try #require(listed.standardOutput.split(separator: "\n").first { $0.hasPrefix(soname + " ") }, "\(listed)")
        let path = String(line.dropFirst(soname.count + 1))
        #expect(path.hasSuffix("/" + soname) && FileManager.default.fileExists(atPath: path), "\(listed)")
        return path
    }

    func linkedLibraries(of binary: String) async throws -> Set<String> {
        let ldd = try await Command.run("ldd", [binary])
        try #require(ldd.status == 0, "\(ldd)")
        var paths = Set<String>()
        for line in ldd.standardOutput.split(separator: "\n") {
            let words = line.split(whereSeparator: \.isWhitespace)
            if words.count >= 3, words[1] == "=>", words[2].hasPrefix("/") {
                paths.insert(String(words[2]))
            } else if let first = words.first, first.hasPrefix("/") {
                paths.insert(String(first))
            }
        }
        return paths
    }
}

/// podman with its storage, state and configuration in a temporary directory.
final class Podman: Sendable {
    let directory: String
    var containersConf: String { directory + "/containers.conf" }
    var storageConf: String { directory + "/storage.conf" }

    init() throws {
        directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "podman")
        // What works on this cgroup-v1 host (crun does not): vfs storage, cgroupfs, runc, events
        // in a file, and bounded ulimits.
        try """
            [containers]
            default_ulimits = ["nofile=1024:1024", "nproc=1000:1000"]

            [engine]
            cgroup_manager = "cgroupfs"
            events_logger = "file"
            runtime = "runc"
            tmp_dir = "\(directory)/tmp"

            """.write(toFile: containersConf, atomically: true, encoding: .utf8)
        try """
            [storage]
            driver = "vfs"
            graphroot = "\(directory)/storage"
            runroot = "\(directory)/run"

            """.write(toFile: storageConf, atomically: true, encoding: .utf8)
    }

    var environment: [String: String?] {
        ["CONTAINERS_CONF": containersConf, "CONTAINERS_STORAGE_CONF": storageConf, "NOTIFY_SOCKET": nil]
    }

    func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> CommandResult {
        try await Command.run("podman", arguments, environment: environment, timeout: timeout)
    }

    /// podman started in the background, its standard error (the container's) kept in a file.
    /// (Not `podman run --detach` through ``Command/run``: the conmon it leaves behind keeps the
    /// output pipes open, so reading them would last as long as the container.)
    func start(_ arguments: [String]) throws -> BackgroundPodman {
        let logFile = directory + "/podman-\(UUID().uuidString.prefix(8)).log"
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let process = try Command.start("podman", arguments, environment: environment, standardError: FileHandle(forWritingAtPath: logFile))
        return BackgroundPodman(process: process, logFile: logFile)
    }

    /// Removes every container and image (unmounting what they mounted), then the directory.
    func tearDown() async {
        _ = try? await run(["rm", "--all", "--force", "--time", "2"])
        _ = try? await run(["rmi", "--all", "--force"], timeout: .seconds(120))
        try? FileManager.default.removeItem(atPath: directory)
    }
}

final class BackgroundPodman: Sendable {
    let process: ChildProcess
    let logFile: String
    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    init(process: ChildProcess, logFile: String) {
        self.process = process
        self.logFile = logFile
    }
}
