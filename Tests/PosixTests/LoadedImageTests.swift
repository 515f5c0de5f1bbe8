import Foundation
import Synchronization
@testable import Posix
import Testing
import TestSupport

/// Every command gives back the pages only start-up reads; this process's own tables and libraries stand in.
@Suite("The loaded image's start-up pages", .tags(.fast))
struct LoadedImageTests {
    @Test func findsTheTablesReadelfListsAndReleasesTheirPages() async throws {
        let relocations = try #require(LoadedImage.relocationTable())
        let unwind = try #require(LoadedImage.unwindTables())
        // The same places and sizes as the sections of this executable's file: .rela.dyn, and
        // .eh_frame followed by its index .eh_frame_hdr.
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let sections = try await MappedImage.sections(of: executable)
        let loadAddress = try MappedImage.loadAddress(of: executable)
        let relaDyn = try #require(sections[".rela.dyn"])
        #expect(relocations == LoadedImage.Span(start: loadAddress + relaDyn.lowerBound, length: UInt(relaDyn.count)))
        let frames = try #require(sections[".eh_frame"]), index = try #require(sections[".eh_frame_hdr"])
        #expect(frames.upperBound <= index.lowerBound)
        #expect(unwind == LoadedImage.Span(start: loadAddress + frames.lowerBound, length: index.upperBound - frames.lowerBound))

        // The dynamic linker read every page of the relocations; afterwards none is mapped. (Not
        // checked here for the unwind tables: this test runner walks them itself whenever a test
        // throws, to record where. BinaryFootprintTests checks them in a running `watch`.)
        let pages = MappedImage.innerPages(of: relocations.start..<(relocations.start + relocations.length))
        try #require(!pages.isEmpty, "the table is smaller than a page")
        #expect(try MappedImage.mappedPages(pages) > 0)
        LoadedImage.releaseRelocationTable()
        #expect(try MappedImage.mappedPages(pages) == 0)
    }

    /// The unwind tables are given back once the thread that asked ends, after its exit has
    /// unwound its stack (as the main thread's does when `dispatch_main` parks it), not before.
    @Test func releasesTheUnwindTablesOnceTheThreadEnds() throws {
        let pages = Self.unwindPages()
        try #require(!pages.isEmpty, "no unwind tables found, or none a whole page")
        // Read every page, as unwinding would.
        var sum: UInt8 = 0
        for page in stride(from: pages.lowerBound, to: pages.upperBound, by: Int(sysconf(Int32(_SC_PAGESIZE)))) {
            sum &+= try #require(UnsafePointer<UInt8>(bitPattern: page)).pointee
        }
        let mappedBefore = try MappedImage.mappedPages(pages)
        try #require(mappedBefore > 0, "read \(sum)")

        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { _ in
            LoadedImage.releaseUnwindTablesWhenThreadEnds()
            let mapped = (try? MappedImage.mappedPages(Self.unwindPages())) ?? 0
            Self.mappedWhileRunning.store(mapped, ordering: .relaxed)
            return nil
        }, nil)
        try #require(started == 0)
        pthread_join(thread, nil)

        // Other tests throwing meanwhile walk the tables too: most pages, not all, are gone.
        let mappedAfter = try MappedImage.mappedPages(pages)
        #expect(Self.mappedWhileRunning.load(ordering: .relaxed) > mappedBefore / 2, "released before the thread ended")
        #expect(mappedAfter < mappedBefore / 2, "\(mappedBefore) pages mapped before, \(mappedAfter) after")
    }

    private static let mappedWhileRunning = Atomic<Int>(0)

    /// The whole pages of the unwind tables (empty when none is found); also read from the
    /// thread, whose C entry point captures nothing.
    private static func unwindPages() -> Range<UInt> {
        guard let unwind = LoadedImage.unwindTables() else { return 0..<0 }
        return MappedImage.innerPages(of: unwind.start..<(unwind.start + unwind.length))
    }

    /// `.rodata`, which the linker put in the writable segment (Swift emits some of the
    /// conformance descriptors among it flagged writable), is found where readelf lists it, made
    /// read-only and given back; the pages of the segment that relocation wrote stay.
    @Test func makesTheWritableConstantsReadOnlyAndReleasesThem() async throws {
        let constants = try #require(LoadedImage.writableConstants(), "this test binary's .rodata is not in its writable segment")
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let sections = try await MappedImage.sections(of: executable)
        let loadAddress = try MappedImage.loadAddress(of: executable)
        let rodata = try #require(sections[".rodata"]), data = try #require(sections[".data"])
        #expect(constants == LoadedImage.Span(start: loadAddress + rodata.lowerBound, length: UInt(rodata.count)))

        let pages = MappedImage.innerPages(of: constants.start..<(constants.start + constants.length))
        let dataPages = MappedImage.innerPages(of: (loadAddress + data.lowerBound)..<(loadAddress + data.upperBound))
        #expect(try MappedImage.isWritable(pages.lowerBound) == true)
        try #require(try MappedImage.mappedPages(pages) > 0)
        #expect(try MappedImage.privatelyWrittenPages(pages) == 0, "nothing writes the constants")
        let writtenBefore = try MappedImage.privatelyWrittenPages(dataPages)
        try #require(writtenBefore > 0)
        // Every page is given back. (Whether they stay unmapped is not checked here: the tests
        // running alongside read them back at once, a conformance check reads them all.)
        let page = UInt(sysconf(Int32(_SC_PAGESIZE)))
        #expect(LoadedImage.releaseWritableConstants() == pages.count / Int(page))
        #expect(try MappedImage.isWritable(pages.lowerBound) == false)
        #expect(try MappedImage.isWritable(pages.upperBound - 1) == false)
        #expect(try MappedImage.privatelyWrittenPages(dataPages) >= writtenBefore)
    }

    /// The shared libraries' read-only segments are given back; none of the pages relocation or
    /// writes changed is (among them RELRO, relocated and then made read-only): they hold the only
    /// copy of what was written.
    @Test func releasesTheLibrariesReadOnlyPagesButNoWrittenOne() throws {
        // Opened as the systemd shim opens it at its first call (and kept open, as the shim does).
        try #require(dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL) != nil, "\(String(cString: dlerror()))")
        let mappings = try MappedImage.libraryMappings()
        // Counted on the libraries this process loads only for libsystemd's sake (compression,
        // crypto), which nothing here calls: the libraries the tests running alongside use read
        // their pages back within milliseconds (a run beside the CLI's parsing tests found 5 849
        // pages of all libraries mapped before and 3 655 after).
        let uncalled = ["liblz4", "libzstd", "liblzma", "libgcrypt", "libgpg-error", "libcap"]
        let readOnly = mappings.filter { mapping in !mapping.writable && uncalled.contains { mapping.file.hasPrefix($0 + ".so") } }
        try #require(!readOnly.isEmpty)
        let mappedBefore = try readOnly.reduce(0) { try $0 + MappedImage.mappedPages($1.pages) }
        try #require(mappedBefore > 0)
        let writtenBefore = try mappings.reduce(0) { try $0 + MappedImage.privatelyWrittenPages($1.pages) }
        try #require(writtenBefore > 0)
        LoadedImage.releaseLibraryPages()
        let mappedAfter = try readOnly.reduce(0) { try $0 + MappedImage.mappedPages($1.pages) }
        #expect(mappedAfter < mappedBefore / 2, "\(mappedBefore) pages mapped before, \(mappedAfter) after")
        let writtenAfter = try mappings.reduce(0) { try $0 + MappedImage.privatelyWrittenPages($1.pages) }
        #expect(writtenAfter >= writtenBefore, "\(writtenBefore) written pages before, \(writtenAfter) after")
    }
}
