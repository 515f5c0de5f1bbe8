import Foundation
@testable import Posix
import Testing
import TestSupport

/// Every command gives back the pages only start-up reads; this process's own tables stand in.
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
        LoadedImage.releaseStartupPages()
        #expect(try MappedImage.mappedPages(pages) == 0)
    }
}
