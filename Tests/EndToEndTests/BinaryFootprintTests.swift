import Etcd
import Foundation
import Testing
import TestSupport

/// Foundation's locale-aware API, and with it ICU and its data, stays out of the product.
///
/// A stray `import Foundation` once made a `String.contains` resolve to Foundation's overload: the
/// static release binary grew from 130 to 177 MiB, and only the 10-minute benchmark noticed. The
/// debug build the tests run links the toolchain's libraries dynamically, so such a use shows up
/// here as an undefined symbol of the binary that one of those libraries defines — whatever the
/// binary's DT_NEEDED entries say (dependencies' autolinking lists libFoundation.so regardless).
@Suite("Binary footprint")
struct BinaryFootprintTests {
    static let forbiddenLibraries = ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so"]

    @Test func usesNothingFromFoundationInternationalizationOrICU() async throws {
        let binary = try BuildProducts.executable(named: "service-monitor")
        let undefined = try await Self.dynamicSymbols(of: binary, "--undefined-only")
        let libraries = try await Self.runtimeLibraryDirectory(of: binary)

        // The method works: the binary does resolve symbols from the Swift runtime this way.
        let runtime = try await Self.dynamicSymbols(of: libraries + "/libswiftCore.so", "--defined-only")
        #expect(!undefined.isDisjoint(with: runtime), "no symbol of libswiftCore.so among the undefined ones of \(binary)")

        for library in Self.forbiddenLibraries {
            let used = undefined.intersection(try await Self.dynamicSymbols(of: libraries + "/" + library, "--defined-only")).sorted()
            #expect(
                used.isEmpty,
                """
                service-monitor uses \(used.count) symbols of \(library) (an `import Foundation` where \
                FoundationEssentials would do?); `swift demangle` names them: \(used.prefix(8).joined(separator: " "))
                """
            )
        }
    }

    /// A running `watch` keeps none of the pages only its start-up read: the relocation table
    /// and the unwind tables its main thread's exit walked (`LoadedImage.releaseRelocationTable`,
    /// `releaseUnwindTablesWhenThreadEnds`). Its `.rodata`, which the linker left in the
    /// writable segment, is read-only, as `releaseFileBackedPages` makes it before giving it back.
    @Test func aRunningWatchKeepsNoPageOnlyStartUpRead() async throws {
        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let (watch, service) = try await Self.watchUp(cluster, client, label: uniqueLabel("pages"), logTarget: "console")

                let binary = try BuildProducts.executable(named: "service-monitor")
                let sections = try await MappedImage.sections(of: binary)
                let pid = watch.process.processIdentifier
                let loadAddress = try MappedImage.loadAddress(of: binary, in: pid)
                // The unwind tables go back as the main thread's exit ends, which nothing orders
                // before the first registration: wait for libdispatch to have parked that thread.
                try await eventually("the watch's main thread to end", every: .milliseconds(10)) {
                    try Self.mainThreadHasEnded(pid)
                }
                // Once registered the watch gave back every page of the program's code and tables;
                // what its steady loop reads next (a lazily bound symbol's entry in .rela.plt, next
                // to .rela.dyn, say) maps its fault-around window or page-cache folio, which may
                // reach into these tables.
                for (from, to) in [(".rela.dyn", ".rela.dyn"), (".eh_frame", ".eh_frame_hdr")] {
                    let start = try #require(sections[from]).lowerBound, end = try #require(sections[to]).upperBound
                    let tables = (loadAddress + start)..<(loadAddress + end)
                    try #require(MappedImage.pagesBeyondNeighboursFaultAround(of: tables).count > 64 * 1024, "\(from) is smaller than two fault-around windows")
                    let mapped = try MappedImage.pagesMappedBeyondNeighbours(tables, of: pid)
                    #expect(mapped == 0, "\(from) to \(to) of the running watch: \(mapped) pages mapped")
                }
                let rodata = MappedImage.innerPages(of: try #require(sections[".rodata"]))
                for page in [rodata.lowerBound, rodata.upperBound - 1] {
                    #expect(try MappedImage.isWritable(loadAddress + page, in: pid) == false)
                }
                #expect(try await watch.terminate() == 0)
                #expect(!service.served.isEmpty)
            }
        }
    }

    /// libsystemd is opened at the first call into it, not by the dynamic loader: a command that
    /// never notifies systemd nor writes to the journal (`hosts`) never maps it, and the binary's
    /// .note.dlopen names it for packaging.
    @Test func libsystemdIsMappedOnlyByTheCommandsThatCallIt() async throws {
        let binary = try BuildProducts.executable(named: "service-monitor")
        let dynamicSection = try await Command.run("readelf", ["--dynamic", binary])
        try #require(dynamicSection.status == 0, "\(dynamicSection)")
        #expect(dynamicSection.standardOutput.contains("(NEEDED)"), "\(dynamicSection)")
        #expect(!dynamicSection.standardOutput.contains("libsystemd"), "\(dynamicSection)")
        let notes = try await Command.run("readelf", ["--string-dump=.note.dlopen", binary])
        #expect(notes.standardOutput.contains("libsystemd.so.0"), "\(notes)")

        try await EtcdCluster.with(members: 1) { cluster in
            try await withEtcdClient(.init(endpoints: cluster.clientURLs)) { client in
                let label = uniqueLabel("libsystemd")
                // It opens libsystemd as it starts; its log entries go to the journal through it.
                let (watch, service) = try await Self.watchUp(cluster, client, label: label, logTarget: "journal")
                let hosts = try HostsFollower(endpoints: cluster.clientURLs[0], label: label)
                try await hosts.expectLines(["127.0.0.1"])

                try await eventually("watch to open libsystemd") { (try? Self.mapsLibsystemd(watch.process.processIdentifier)) == true }
                #expect(try !Self.mapsLibsystemd(hosts.process.processIdentifier))
                #expect(try await hosts.stop() == 0)
                #expect(try await watch.terminate() == 0)
                #expect(!service.served.isEmpty)
            }
        }
    }

    /// A `watch` of a stand-in service (kept by the caller while the watch runs) as instance w-1
    /// of `label`, once its record is up.
    static func watchUp(
        _ cluster: EtcdCluster, _ client: EtcdClient, label: String, logTarget: String
    ) async throws -> (watch: MonitorProcess, service: StandIn) {
        let service = try await StandIn()
        let watch = try MonitorProcess([
            "watch", "--endpoints", cluster.clientURLs[0], "--label", label, "--service-id", "w-1",
            "--monitor-url", service.url, "--interval", "300ms", "--timeout", "200ms", "--host-ip", "127.0.0.1",
            "--log-target", logTarget,
        ])
        _ = try await client.waitForRecord("/service-monitor/\(label.lowercased())/instances/w-1", "up") { $0?.state == "up" }
        return (watch, service)
    }

    /// Whether the main thread of `pid` has ended, as an `async` main's does once the program
    /// first suspends: its stack unwound and its thread-exit actions run, libdispatch keeps it
    /// parked in `rt_sigsuspend` (so that the process does not become a zombie).
    static func mainThreadHasEnded(_ pid: Int32) throws -> Bool {
        let call = try String(contentsOfFile: "/proc/\(pid)/task/\(pid)/syscall", encoding: .utf8)
        return call.split(separator: " ").first == "\(rtSigsuspend)"
    }

    /// `rt_sigsuspend`'s system call number (Glibc's `SYS_` macros are not imported).
    #if arch(x86_64)
    static let rtSigsuspend = 130
    #elseif arch(arm64)
    static let rtSigsuspend = 133
    #endif

    static func mapsLibsystemd(_ pid: Int32) throws -> Bool {
        try MappedImage.libraryMappings(of: pid).contains { $0.file.hasPrefix("libsystemd.so.") }
    }

    /// The names in the dynamic symbol table of `file`, filtered by `nm` (`--undefined-only`, …).
    static func dynamicSymbols(of file: String, _ filter: String) async throws -> Set<String> {
        let result = try await Command.run("nm", ["--dynamic", filter, file])
        guard result.status == 0 else { throw CommandError(description: "nm \(file): \(result)") }
        return Set(result.standardOutput.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) })
    }

    /// The toolchain directory the binary loads its Swift libraries from: the entry of its
    /// RUNPATH that holds them.
    static func runtimeLibraryDirectory(of binary: String) async throws -> String {
        let dynamicSection = try await Command.run("readelf", ["--dynamic", binary])
        guard dynamicSection.status == 0 else { throw CommandError(description: "readelf \(binary): \(dynamicSection)") }
        let runpath = dynamicSection.standardOutput.split(separator: "\n")
            .first { $0.contains("(RUNPATH)") || $0.contains("(RPATH)") }
            .flatMap { line in line.split(separator: "[").last?.split(separator: "]").first }
            .map { $0.split(separator: ":").map(String.init) } ?? []
        let libraries = runpath.first { directory in
            (forbiddenLibraries + ["libswiftCore.so"]).allSatisfy { FileManager.default.fileExists(atPath: directory + "/" + $0) }
        }
        guard let libraries else {
            throw CommandError(description: "none of the RUNPATH entries \(runpath) of \(binary) holds the Swift runtime and Foundation")
        }
        return libraries
    }
}
