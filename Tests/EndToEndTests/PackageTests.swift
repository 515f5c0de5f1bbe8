import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The Debian package the way an operator gets it: built by packaging/build-deb.sh, checked by
/// lintian, installed with `apt-get install ./….deb`, used (man, completions, units, journal
/// catalog, a backtrace symbolicated by the -dbgsym package), then removed.
///
/// It packages the debug binary the tests already built (a release build would not fit the test
/// run's time). That binary links the Swift runtime of the toolchain on this machine, which no
/// Debian package provides, so the script is told to accept it (--allow-unpackaged-libraries);
/// `./dev package` ships the release binary built with --static-swift-stdlib instead.
@Suite("Debian package", .serialized, .timeLimit(.minutes(10)))
struct PackageTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let package = "service-monitor"
    static let debugSymbolsPackage = "service-monitor-dbgsym"
    /// Set at build time (SERVICE_MONITOR_MAINTAINER) and expected in both packages' control files.
    static let maintainer = "Package Test <package-test@service-monitor.example.org>"

    /// What the package must install, each a regular non-empty file.
    static let installedFiles = [
        "/usr/bin/service-monitor",
        "/lib/systemd/system/service-monitor-watch@.service",
        "/lib/systemd/system/service-monitor-lease@.service",
        "/usr/share/doc/service-monitor/examples/elasticsearch/elasticsearch-lease@.service",
        "/usr/share/doc/service-monitor/examples/elasticsearch/elasticsearch@.service",
        "/usr/share/doc/service-monitor/examples/elasticsearch/elasticsearch-monitor@.service",
        "/usr/share/doc/service-monitor/examples/elasticsearch/elasticsearch-run@.service",
        "/usr/share/doc/service-monitor/examples/galera/galera-lease@.service",
        "/usr/share/doc/service-monitor/examples/galera/galera@.service",
        "/usr/share/doc/service-monitor/examples/galera/galera-monitor@.service",
        "/usr/share/doc/service-monitor/examples/galera/galera-run@.service",
        "/usr/share/doc/service-monitor/examples/galera/70-service-monitor-galera.cnf",
        "/usr/share/doc/service-monitor/example.env",
        "/usr/share/man/man1/service-monitor.1.gz",
        "/usr/share/bash-completion/completions/service-monitor",
        "/usr/share/zsh/vendor-completions/_service-monitor",
        "/usr/share/fish/vendor_completions.d/service-monitor.fish",
        "/usr/lib/systemd/catalog/service-monitor.catalog",
        "/usr/share/doc/service-monitor/copyright",
        "/usr/share/doc/service-monitor/changelog.gz",
        "/usr/share/lintian/overrides/service-monitor",
    ]

    /// apt and dpkg wait for a lock another installer holds instead of failing at once.
    static let apt = ["-y", "-q", "-o", "DPkg::Lock::Timeout=120"]
    static let aptEnvironment: [String: String?] = ["DEBIAN_FRONTEND": "noninteractive"]

    @Test func installsEveryFileExplainsItsJournalEntriesAndRemovesCleanly() async throws {
        try #require(getuid() == 0, "installing a package needs root (./dev test runs as root)")
        // A run that was killed before its cleanup may have left the package behind.
        try await purge()
        do {
            try await installUseAndRemove()
        } catch {
            try? await purge()
            throw error
        }
        try? await purge()
    }

    /// The test's body, between the purges that leave the machine as it was found.
    func installUseAndRemove() async throws {
        let directory = try EtcdTestPaths.makeTemporaryDirectory(prefix: "package")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let deb = try await buildPackage(into: directory)
        let debugSymbols = try await checkDebugSymbolsPackage(besides: deb)
        try await checkLintian([deb, debugSymbols])
        let install = try await Command.run("apt-get", Self.apt + ["install", deb], environment: Self.aptEnvironment, timeout: .seconds(300))
        try #require(install.status == 0, "\(install)")
        #expect(try await installedStatus() == "install ok installed")

        try await checkFiles()
        try await checkCopyrightAndChangelog()
        try await checkBinaryManPageAndCompletions()
        try await checkUnits()
        try await checkCatalog()
        try await checkBacktraceIsSymbolicatedOnlyWithDebugSymbols(debugSymbols)

        // Removal takes every file with it, and the catalog index forgets the entries.
        let remove = try await Command.run("apt-get", Self.apt + ["remove", Self.package, Self.debugSymbolsPackage], environment: Self.aptEnvironment, timeout: .seconds(300))
        try #require(remove.status == 0, "\(remove)")
        for file in Self.installedFiles {
            #expect(!FileManager.default.fileExists(atPath: file), "\(file) is still there after apt-get remove")
        }
        #expect(try await installedStatus(of: Self.debugSymbolsPackage) != "install ok installed")
        let listed = try await Command.run("journalctl", ["--list-catalog"] + catalogIDs())
        #expect(!listed.standardOutput.contains("service-monitor"), "catalog still indexed after removal: \(listed)")
        try await purge()
        #expect(try await installedStatus() == nil)
    }

    // MARK: - Steps

    /// Runs packaging/build-deb.sh on the debug binary; returns the .deb's path.
    func buildPackage(into directory: String) async throws -> String {
        // apt reads a local .deb as the unprivileged _apt user: the directory must be world-readable.
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
        let binary = try BuildProducts.executable(named: "service-monitor")
        let script = Self.repository.appendingPathComponent("packaging/build-deb.sh").path
        let built = try await Command.run(script, ["--fast", "--allow-unpackaged-libraries", binary, directory],
                                    environment: ["SERVICE_MONITOR_MAINTAINER": Self.maintainer], timeout: .seconds(300))
        try #require(built.status == 0, "\(built)")
        let deb = built.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let version = try await Command.run(binary, ["--version"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        let architecture = try await Command.run("dpkg", ["--print-architecture"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(deb == "\(directory)/service-monitor_\(version)_\(architecture).deb")
        try #require(FileManager.default.fileExists(atPath: deb), "no package at \(deb.debugDescription)")

        let fields = try await Command.run("dpkg-deb", ["--field", deb, "Package", "Version", "Architecture", "Depends", "Maintainer"]).standardOutput
        #expect(fields.contains("Package: service-monitor\n"), "\(fields)")
        #expect(fields.contains("Maintainer: \(Self.maintainer)\n"), "\(fields)")
        #expect(fields.contains("Version: \(version)\n"), "\(fields)")
        #expect(fields.contains("Architecture: \(architecture)\n"), "\(fields)")
        #expect(fields.contains("libsystemd0"), "\(fields)")
        #expect(fields.contains("libc6"), "\(fields)")
        return deb
    }

    /// The -dbgsym package beside the .deb: the debug information of the shipped binary under
    /// /usr/lib/debug/.build-id/, named by the binary's build id, as dh_strip makes it. Returns its
    /// path.
    func checkDebugSymbolsPackage(besides deb: String) async throws -> String {
        let debugSymbols = deb.replacingOccurrences(of: "/service-monitor_", with: "/service-monitor-dbgsym_")
        try #require(FileManager.default.fileExists(atPath: debugSymbols), "no debug symbols package at \(debugSymbols)")
        let fields = try await Command.run("dpkg-deb", ["--field", debugSymbols, "Package", "Version", "Depends", "Build-Ids", "Maintainer"]).standardOutput
        let version = try await Command.run("dpkg-deb", ["--field", deb, "Version"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(fields.contains("Package: service-monitor-dbgsym\n"), "\(fields)")
        #expect(fields.contains("Depends: service-monitor (= \(version))\n"), "\(fields)")
        #expect(fields.contains("Maintainer: \(Self.maintainer)\n"), "\(fields)")

        let buildID = try #require(try await gnuBuildID(of: try BuildProducts.executable(named: "service-monitor")))
        #expect(fields.contains("Build-Ids: \(buildID)\n"), "\(fields)")
        let contents = try await Command.run("dpkg-deb", ["--contents", debugSymbols]).standardOutput
        let debugFile = "./usr/lib/debug/.build-id/\(buildID.prefix(2))/\(buildID.dropFirst(2)).debug"
        #expect(contents.contains(" \(debugFile)\n"), "\(contents)")

        // The shipped binary has no symbol table and no debug sections left.
        let extracted = try EtcdTestPaths.makeTemporaryDirectory(prefix: "package-contents")
        defer { try? FileManager.default.removeItem(atPath: extracted) }
        let unpacked = try await Command.run("dpkg-deb", ["--extract", deb, extracted], timeout: .seconds(120))
        try #require(unpacked.status == 0, "\(unpacked)")
        let sections = try await Command.run("readelf", ["--section-headers", "--wide", "\(extracted)/usr/bin/service-monitor"]).standardOutput
        #expect(!sections.contains(".symtab") && !sections.contains(".debug_info"), "the shipped binary is not stripped: \(sections)")
        #expect(sections.contains(".gnu_debuglink"), "\(sections)")
        #expect(try await gnuBuildID(of: "\(extracted)/usr/bin/service-monitor") == buildID)
        return debugSymbols
    }

    /// lintian finds no error and no warning in either package; every finding that is overridden
    /// says why (lintian prints the comment above an override as an "N:" line before the "O:").
    /// `--fail-on none`: with --show-overrides, lintian would count the overridden ones as failures.
    func checkLintian(_ packages: [String]) async throws {
        let lintian = try await Command.run("lintian", ["--fail-on", "none", "--show-overrides"] + packages, timeout: .seconds(400))
        let lines = lintian.standardOutput.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let findings = lines.filter { $0.hasPrefix("E: ") || $0.hasPrefix("W: ") }
        #expect(lintian.status == 0 && findings.isEmpty, "\(lintian)")
        for (index, line) in lines.enumerated() where line.hasPrefix("O: ") {
            let reason = index > 0 ? lines[index - 1] : ""
            #expect(reason.hasPrefix("N: ") && reason.count > 10, "override without a reason: \(line)")
        }
    }

    func checkFiles() async throws {
        let listing = try await Command.run("dpkg", ["-L", Self.package])
        #expect(listing.status == 0, "\(listing)")
        let listed = Set(listing.standardOutput.split(separator: "\n").map(String.init))
        for file in Self.installedFiles {
            #expect(listed.contains(file), "dpkg -L does not list \(file)")
            let attributes = try? FileManager.default.attributesOfItem(atPath: file)
            #expect(attributes?[.type] as? FileAttributeType == .typeRegular, "\(file) is not an installed file")
            #expect((attributes?[.size] as? Int ?? 0) > 0, "\(file) is empty")
        }
        // Exactly these files (plus directories): nothing stray was packaged.
        let files = listed.filter { path in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
        #expect(files == Set(Self.installedFiles), "\(files.symmetricDifference(Self.installedFiles).sorted())")

        let catalog = try String(contentsOfFile: "/usr/lib/systemd/catalog/service-monitor.catalog", encoding: .utf8)
        let shipped = try String(contentsOf: Self.repository.appendingPathComponent("packaging/service-monitor.catalog"), encoding: .utf8)
        #expect(catalog == shipped)
        let example = try String(contentsOfFile: "/usr/share/doc/service-monitor/example.env", encoding: .utf8)
        for name in ["LABEL=", "SERVICE_ID=", "MONITOR_URL=", "WATCH_OPTIONS=", "LEASE_OPTIONS=", "SERVICE_MONITOR_ENDPOINTS=", "ETCDCTL_ENDPOINTS="] {
            #expect(example.contains(name), "example.env does not document \(name)")
        }
    }

    /// A machine-readable copyright file (DEP-5) and the changelog generated from CHANGELOG.md,
    /// whose first entry is the package's version.
    func checkCopyrightAndChangelog() async throws {
        let copyright = try String(contentsOfFile: "/usr/share/doc/service-monitor/copyright", encoding: .utf8)
        #expect(copyright.hasPrefix("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"), "\(copyright.prefix(200))")
        #expect(copyright.contains("Files: *\nCopyright: ") && copyright.contains("License: Apache-2.0\n"), "\(copyright.prefix(600))")
        let changelog = try await Command.run("gzip", ["-dc", "/usr/share/doc/service-monitor/changelog.gz"])
        #expect(changelog.status == 0, "\(changelog)")
        let version = try await Command.run("/usr/bin/service-monitor", ["--version"]).standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(changelog.standardOutput.hasPrefix("service-monitor (\(version)) unstable; urgency=medium\n"), "\(changelog)")
        #expect(changelog.standardOutput.contains("\n -- \(Self.maintainer)  "), "\(changelog)")
    }

    func checkBinaryManPageAndCompletions() async throws {
        let installed = try await Command.run("/usr/bin/service-monitor", ["--version"])
        let built = try await Command.run(try BuildProducts.executable(named: "service-monitor"), ["--version"])
        #expect(installed.status == 0, "\(installed)")
        #expect(installed.standardOutput == built.standardOutput && !built.standardOutput.isEmpty, "\(installed) vs \(built)")

        // The page is generated from the CLI: every command and its options are in it.
        let page = try await Command.run("gzip", ["-dc", "/usr/share/man/man1/service-monitor.1.gz"])
        #expect(page.status == 0, "\(page)")
        #expect(page.standardOutput.hasPrefix(".TH \"SERVICE-MONITOR\" \"1\""), "\(page.standardOutput.prefix(200))")
        for text in ["watch", "hosts", "acquire-lease", "release-lease", "status", "\\-\\-monitor\\-url", "\\-\\-lease\\-timeout", "\\-\\-endpoints"] {
            #expect(page.standardOutput.contains(text), "man page lacks \(text)")
        }
        if (try? Command.resolve("man")) != nil {
            let located = try await Command.run("man", ["-w", "service-monitor"])
            #expect(located.standardOutput == "/usr/share/man/man1/service-monitor.1.gz\n", "\(located)")
            // man renders it without complaint.
            let rendered = try await Command.run("man", ["--warnings", "-P", "cat", "service-monitor"], environment: ["MANWIDTH": "100"])
            #expect(rendered.status == 0 && rendered.standardError.isEmpty, "\(rendered)")
            #expect(rendered.standardOutput.contains("acquire-lease"), "\(rendered)")
        }

        // bash loads the completion and registers it for the command.
        let bash = try await Command.run("bash", ["-c", "source /usr/share/bash-completion/completions/service-monitor && complete -p service-monitor"])
        #expect(bash.status == 0 && bash.standardOutput.contains("service-monitor"), "\(bash)")
        // Completions are sourced, never executed: no "#!" line.
        for file in ["/usr/share/bash-completion/completions/service-monitor", "/usr/share/zsh/vendor-completions/_service-monitor", "/usr/share/fish/vendor_completions.d/service-monitor.fish"] {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            #expect(!text.hasPrefix("#!"), "\(file) starts with a hashbang: \(text.prefix(40))")
        }
        let zsh = try String(contentsOfFile: "/usr/share/zsh/vendor-completions/_service-monitor", encoding: .utf8)
        #expect(zsh.hasPrefix("#compdef service-monitor"), "\(zsh.prefix(100))")
        let fish = try String(contentsOfFile: "/usr/share/fish/vendor_completions.d/service-monitor.fish", encoding: .utf8)
        #expect(fish.contains("complete -c 'service-monitor'") || fish.contains("complete -c service-monitor"), "\(fish.prefix(300))")
    }

    /// systemd loads an instance of each installed template from /lib/systemd/system and finds
    /// no fault, including in Documentation= (the man page must now exist).
    func checkUnits() async throws {
        let manCheck = (try? Command.resolve("man")) != nil ? "--man=yes" : "--man=no"
        let verified = try await Command.run("systemd-analyze", ["verify", manCheck, "service-monitor-watch@package-test.service", "service-monitor-lease@package-test.service"])
        #expect(verified.status == 0, "\(verified)")
        #expect(verified.standardError.isEmpty && verified.standardOutput.isEmpty, "\(verified)")
    }

    /// Every catalogued MESSAGE_ID is indexed, and `journalctl -x` explains a logged entry.
    func checkCatalog() async throws {
        let update = try await Command.run("journalctl", ["--update-catalog"])
        #expect(update.status == 0, "\(update)")
        let ids = try await catalogIDs()
        #expect(ids.count >= 10, "\(ids)")
        let listed = try await Command.run("journalctl", ["--list-catalog"] + ids)
        #expect(listed.status == 0, "\(listed)")
        for id in ids {
            #expect(listed.standardOutput.contains(id + " service-monitor: "), "\(id) is not in the catalog index: \(listed)")
        }

        // An "up" entry with the fields the catalog text refers to, written straight to journald.
        let upID = "3c7a4f1e9b2d4e0f8a6b5c4d3e2f1a0b"
        let serviceID = "package-test-\(UUID().uuidString.prefix(8).lowercased())"
        let entry = [
            "MESSAGE_ID=\(upID)",
            "MESSAGE=\(serviceID) is up: HTTP 200 in 1 ms",
            "PRIORITY=5",
            "SYSLOG_IDENTIFIER=service-monitor-package-test",
            "SERVICE_MONITOR_LABEL=package-test",
            "SERVICE_MONITOR_SERVICE_ID=\(serviceID)",
            "SERVICE_MONITOR_HOST=127.0.0.1",
            "SERVICE_MONITOR_DETAIL=HTTP 200 in 1 ms",
        ].joined(separator: "\n") + "\n"
        let logged = try await Command.run("logger", ["--journald"], standardInput: entry)
        try #require(logged.status == 0, "\(logged)")

        let explained = try await eventually("journalctl -x to show the entry of \(serviceID)", timeout: .seconds(20)) { () -> String? in
            let shown = try await Command.run("journalctl", ["-x", "--no-pager", "MESSAGE_ID=\(upID)", "SERVICE_MONITOR_SERVICE_ID=\(serviceID)"])
            return shown.standardOutput.contains("is up: HTTP 200") ? shown.standardOutput : nil
        }
        // The catalog text, with the entry's own fields substituted.
        #expect(explained.contains("Subject: \(serviceID) of package-test is up"), "\(explained)")
        #expect(explained.contains("Defined-By: service-monitor"), "\(explained)")
        #expect(explained.contains("Documentation: man:service-monitor(1)"), "\(explained)")
        #expect(explained.contains("(label package-test, host"), "\(explained)")
    }

    /// gdb stops `service-monitor --version` in exit(3) and prints the backtrace: with only the
    /// package installed, the project's frames have no source location; with the -dbgsym package
    /// installed, gdb finds the debug information by build id and names file and line.
    func checkBacktraceIsSymbolicatedOnlyWithDebugSymbols(_ debugSymbols: String) async throws {
        // A frame of the project's own code with its source file and line.
        let symbolicatedFrame = #/in \S*ServiceMonitorCLI\S* .* at \S*/Sources/ServiceMonitorCLI/\S+\.swift:\d+/#
        let without = try await backtraceOfVersion()
        #expect(without.contains("Breakpoint 1, ") && without.contains("#1 "), "gdb printed no backtrace: \(without)")
        #expect(without.firstMatch(of: symbolicatedFrame) == nil, "source locations without the debug symbols package: \(without)")

        let install = try await Command.run("apt-get", Self.apt + ["install", debugSymbols], environment: Self.aptEnvironment, timeout: .seconds(300))
        try #require(install.status == 0, "\(install)")
        #expect(try await installedStatus(of: Self.debugSymbolsPackage) == "install ok installed")
        let with = try await backtraceOfVersion()
        #expect(with.firstMatch(of: symbolicatedFrame) != nil, "no symbolicated frame of ServiceMonitorCLI: \(with)")
    }

    func backtraceOfVersion() async throws -> String {
        let gdb = try await runWithSignalsUnblocked("gdb", ["-nx", "-batch", "-ex", "set pagination off", "-ex", "break exit", "-ex", "run", "-ex", "bt",
                                                      "--args", "/usr/bin/service-monitor", "--version"], timeout: .seconds(180))
        #expect(gdb.status == 0, "\(gdb)")
        return gdb.standardOutput
    }

    // MARK: - Helpers

    /// Runs a program with no signal blocked. A process started from a Swift concurrency thread
    /// inherits that thread's signal mask, which blocks SIGCHLD among others: gdb then never learns
    /// that its inferior stopped. python3 clears the mask and execs the program.
    func runWithSignalsUnblocked(_ executable: String, _ arguments: [String], timeout: Duration) async throws -> CommandResult {
        let unblock = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, ()); os.execvp(sys.argv[1], sys.argv[1:])"
        return try await Command.run("python3", ["-c", unblock, executable] + arguments, timeout: timeout)
    }

    /// The GNU build id of an ELF file, as readelf prints it, or nil when it has none.
    func gnuBuildID(of path: String) async throws -> String? {
        let notes = try await Command.run("readelf", ["--notes", path]).standardOutput
        return notes.firstMatch(of: #/Build ID: ([0-9a-f]+)/#).map { String($0.1) }
    }

    /// The MESSAGE_IDs the shipped catalog documents.
    func catalogIDs() async throws -> [String] {
        try String(contentsOf: Self.repository.appendingPathComponent("packaging/service-monitor.catalog"), encoding: .utf8)
            .split(separator: "\n")
            .filter { $0.hasPrefix("-- ") }
            .map { String($0.dropFirst(3)).trimmingCharacters(in: .whitespaces) }
    }

    /// dpkg's status of the package, or nil when dpkg knows nothing of it.
    func installedStatus(of package: String = Self.package) async throws -> String? {
        let result = try await Command.run("dpkg-query", ["-W", "-f", "${Status}", package])
        return result.status == 0 ? result.standardOutput : nil
    }

    /// Removes the package and its configuration; a no-op when dpkg knows nothing of it (apt
    /// cannot even name a package that is in no archive and not installed).
    func purge() async throws {
        var known: [String] = []
        for package in [Self.debugSymbolsPackage, Self.package] where try await installedStatus(of: package) != nil {
            known.append(package)
        }
        guard !known.isEmpty else { return }
        let result = try await Command.run("apt-get", Self.apt + ["purge"] + known, environment: Self.aptEnvironment, timeout: .seconds(300))
        guard result.status == 0 else { throw CommandError(description: "apt-get purge failed: \(result)") }
    }
}
